"""API shapes of print jobs (field names as in the integration guide)."""

from rest_framework import serializers

from j3d.lib import limits
from j3d.lib.serializers import ModelSerializer, Serializer
from scheduling.models import ScheduledPrint


class ScheduledPrintSerializer(ModelSerializer):
    # Ids are resolved against the caller's own printers and orders by the view (404 otherwise).
    printer_id = serializers.IntegerField(min_value=1)
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
        ]
        read_only_fields = ["id", "started_at", "completed_at", "created_at", "updated_at"]


class ScheduleOrderSerializer(Serializer):
    """Body of POST /api/orders/<order_id>/schedule-prints."""

    printer_id = serializers.IntegerField(min_value=1)
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
