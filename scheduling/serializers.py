"""API shapes of print jobs (field names as in the integration guide)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from j3d.lib import limits
from j3d.lib.serializers import ModelSerializer, Serializer
from scheduling.models import ScheduledPrint


@extend_schema_field(
    {
        "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["auto"]}],
        "nullable": True,
        "description": 'A printer id, or "auto" / null / absent for the farm pool.',
    }
)
class PrinterOrAutoField(serializers.Field):
    """A printer id, or "auto" / null / absent: the job goes to the farm pool for the planner."""

    default_error_messages = {"invalid": 'A printer id (a positive whole number) or "auto".'}

    def to_internal_value(self, data: object) -> int | None:
        if data is None or data == "auto":
            return None
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        try:
            value = int(data)
        except ValueError:
            self.fail("invalid")
        if not 1 <= value <= 2**63 - 1:
            self.fail("invalid")
        return value

    def to_representation(self, value: int | None) -> int | None:
        return value


class ScheduledPrintSerializer(ModelSerializer):
    # Ids are resolved against the caller's own printers and orders by the view (404 otherwise).
    printer_id = PrinterOrAutoField(required=False, allow_null=True)
    order_id = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    failed_reason = serializers.CharField(allow_blank=True, required=False)

    class Meta:
        model = ScheduledPrint
        fields = [
            "id",
            "printer_id",
            "order_id",
            "job_name",
            "file_name",
            "status",
            "scheduled_start",
            "estimated_duration_minutes",
            "material_type",
            "material_slot",
            "nozzle_temp",
            "bed_temp",
            "print_speed",
            "started_at",
            "completed_at",
            "failed_reason",
            "priority",
            "notes",
            "created_at",
            "updated_at",
            "expected_start",
            "expected_end",
            "waiting_reason",
        ]
        read_only_fields = [
            "id",
            "started_at",
            "completed_at",
            "created_at",
            "updated_at",
            "expected_start",
            "expected_end",
            "waiting_reason",
        ]


class ScheduleOrderSerializer(Serializer):
    """Body of POST /api/orders/<order_id>/schedule-prints (no printer: the farm pool)."""

    printer_id = PrinterOrAutoField(required=False, allow_null=True)
    material_type = serializers.CharField(
        max_length=32, required=False, allow_null=True, allow_blank=True
    )
    start_offset_minutes = serializers.IntegerField(
        min_value=0, max_value=limits.MAX_START_OFFSET_MINUTES, default=0
    )


class StatusFilterSerializer(Serializer):
    status = serializers.ChoiceField(choices=ScheduledPrint.Status.choices, required=False)


class JobCancelledSerializer(Serializer):
    """The answer to DELETE /api/bambu/scheduled-prints/<id>."""

    message = serializers.CharField()
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ScheduledPrint.Status.choices)


class ScheduledOrderSerializer(Serializer):
    """The answer to POST /api/orders/<order_id>/schedule-prints."""

    message = serializers.CharField()
    prints = ScheduledPrintSerializer(many=True)


class PlanSwapSerializer(Serializer):
    slot = serializers.IntegerField()
    material_type = serializers.CharField()
    color = serializers.CharField(allow_null=True)


class PlanJobSerializer(Serializer):
    job_id = serializers.IntegerField(source="pk")
    job_name = serializers.CharField()
    status = serializers.ChoiceField(choices=ScheduledPrint.Status.choices)
    expected_start = serializers.DateTimeField()
    expected_end = serializers.DateTimeField()
    swap = PlanSwapSerializer(source="planned_swap", allow_null=True)
    slot = serializers.IntegerField(source="planned_slot", allow_null=True)


class PlanPrinterSerializer(Serializer):
    printer_id = serializers.IntegerField()
    name = serializers.CharField()
    jobs = PlanJobSerializer(many=True)


class PlanUnplacedSerializer(Serializer):
    job_id = serializers.IntegerField(source="pk")
    job_name = serializers.CharField()
    reason = serializers.CharField(source="waiting_reason")


class PlanSerializer(Serializer):
    """GET /api/plan: per printer its planned jobs in order, and the jobs that wait, with why."""

    computed_at = serializers.DateTimeField(allow_null=True)
    printers = PlanPrinterSerializer(many=True)
    unplaced = PlanUnplacedSerializer(many=True)


class PlateClearedSerializer(Serializer):
    """The answer to POST /api/printers/<id>/plate-cleared."""

    printer_id = serializers.IntegerField()
    plate_clear = serializers.BooleanField()
