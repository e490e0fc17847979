"""API shapes of print jobs (field names as in the integration guide) and of the analytics."""

from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from j3d.lib import limits
from j3d.lib.serializers import ModelSerializer, QuerySerializer, Serializer
from scheduling.models import FarmSettings, ScheduledPrint


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


class JobUploadSerializer(Serializer):
    """The upload of the job's latest dispatch to its printer (read-only)."""

    state = serializers.ChoiceField(
        source="upload_state",
        choices=ScheduledPrint.Upload.choices,
        read_only=True,
        help_text="none (never dispatched), queued, uploading, uploaded (the printer holds the "
        "whole file and was told to start), failed (see last_error)",
    )
    bytes_sent = serializers.IntegerField(
        source="upload_bytes_sent",
        read_only=True,
        help_text="Bytes the printer has taken so far (updated every few seconds).",
    )
    bytes_total = serializers.IntegerField(source="upload_bytes_total", read_only=True)
    started_at = serializers.DateTimeField(
        source="upload_started_at",
        read_only=True,
        allow_null=True,
        help_text="When the current (or last) attempt began.",
    )
    finished_at = serializers.DateTimeField(
        source="upload_finished_at", read_only=True, allow_null=True
    )
    attempts = serializers.IntegerField(source="upload_attempts", read_only=True)
    last_error = serializers.CharField(
        source="upload_error",
        read_only=True,
        help_text="Why the last attempt failed or was restarted; empty after a success.",
    )


class ScheduledPrintSerializer(ModelSerializer):
    # Ids are resolved against the caller's own printers and orders by the view (404 otherwise).
    printer_id = PrinterOrAutoField(required=False, allow_null=True)
    order_id = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    failed_reason = serializers.CharField(allow_blank=True, required=False)
    upload = JobUploadSerializer(source="*", read_only=True)

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
            "upload",
            "dispatch_error",
            "dispatch_failed_at",
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
            "dispatch_error",
            "dispatch_failed_at",
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


class StatusFilterSerializer(QuerySerializer):
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
    dispatch_error = serializers.CharField(help_text="Why the last dispatch failed, if one did")
    dispatch_failed_at = serializers.DateTimeField(allow_null=True)


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


# --- analytics ---------------------------------------------------------------------------------

MAX_RANGE_DAYS = 3660
# Far enough either way for any shop's history; the edges keep date arithmetic in range.
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


class AnalyticsRangeSerializer(QuerySerializer):
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD` (whole days, UTC; default the last 30 days)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword, so the fields are named here rather than as attributes.
        return {
            "from": serializers.DateField(required=False, help_text="First day (default: to-29)"),
            "to": serializers.DateField(required=False, help_text="Last day (default: today)"),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in ("from", "to"):
            if name in attrs and not EARLIEST <= attrs[name] <= LATEST:
                raise serializers.ValidationError({name: [f"Between {EARLIEST} and {LATEST}."]})
        last = attrs.get("to") or timezone.localdate()
        first = attrs.get("from") or last - timedelta(days=29)
        if first > last:
            raise serializers.ValidationError({"from": ["Must be on or before 'to'."]})
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"from": [f"At most {MAX_RANGE_DAYS} days."]})
        return {"from": first, "to": last}


class MaterialsQuerySerializer(AnalyticsRangeSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["by"] = serializers.ChoiceField(
            ["type", "order"], default="type", help_text="Group by material type+colour or order"
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**super().validate(attrs), "by": attrs.get("by", "type")}


def _money(**kwargs: Any) -> serializers.DecimalField:
    # Exact decimals as strings: money must add up to the cent in the client too.
    return serializers.DecimalField(
        max_digits=20, decimal_places=2, coerce_to_string=True, **kwargs
    )


def _pct() -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=9, decimal_places=2, coerce_to_string=True, allow_null=True
    )


class FailureReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()


class AttemptFiguresSerializer(serializers.Serializer):
    jobs_completed = serializers.IntegerField()
    jobs_failed = serializers.IntegerField()
    jobs_cancelled = serializers.IntegerField()
    failure_rate_pct = _pct()
    print_hours = _money()
    material_cost = _money()
    machine_cost = _money()
    energy_cost = _money()
    total_cost = _money()


class AnalyticsSummarySerializer(AttemptFiguresSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": serializers.DateField(),
            "to": serializers.DateField(),
            "currency": serializers.CharField(),
            **super().get_fields(),
            "material_grams": _money(),
            "printers": serializers.IntegerField(),
            "utilisation_pct": _pct(),
            "orders": serializers.IntegerField(),
            "revenue": _money(),
            "fees": _money(),
            "orders_cost": _money(),
            "margin": _money(),
            "margin_pct": _pct(),
        }


class PrinterDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    printing_hours = _money()
    utilisation_pct = _pct()


class AnalyticsPrinterSerializer(AttemptFiguresSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    model = serializers.CharField()
    printing_hours = _money(help_text="Hours printing within the range (split by day)")
    available_hours = serializers.IntegerField()
    utilisation_pct = _pct()
    top_failure_reasons = FailureReasonSerializer(many=True)
    daily = PrinterDaySerializer(many=True)


class AnalyticsProductSerializer(AttemptFiguresSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    units_made = serializers.IntegerField()
    material_cost_per_unit = _money(allow_null=True)
    machine_cost_per_unit = _money(allow_null=True)
    cost_per_unit = _money(allow_null=True)
    units_sold = serializers.IntegerField()
    revenue = _money()
    fees = _money()
    margin_per_unit = _money(allow_null=True)
    top_failure_reasons = FailureReasonSerializer(many=True)


class AnalyticsOrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_number = serializers.CharField()
    source = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    currency = serializers.CharField()
    revenue = _money()
    fees = _money()
    cost = _money(help_text="Every attempt printed for it, failed ones and reprints included")
    attempts = serializers.IntegerField()
    failed_attempts = serializers.IntegerField()
    margin = _money(allow_null=True, help_text="Null when the order's currency is not the farm's")
    margin_pct = _pct()


class AnalyticsMaterialSerializer(serializers.Serializer):
    material_type = serializers.CharField(required=False)
    color_hex = serializers.CharField(required=False)
    order_id = serializers.IntegerField(required=False, allow_null=True)
    order_number = serializers.CharField(required=False)
    grams = _money()
    cost = _money()
    attempts = serializers.IntegerField()


class StockRowSerializer(serializers.Serializer):
    material_type = serializers.CharField()
    color_hex = serializers.CharField(help_text="#RRGGBB, or empty when unknown")
    on_hand_grams = _money(help_text="Spools in slots plus spare spools")
    planned_grams = _money(help_text="What the unfinished jobs will use")
    use_per_day_grams = _money(help_text="Average over the last 30 days")
    days_left = serializers.DecimalField(
        max_digits=12, decimal_places=1, coerce_to_string=True, allow_null=True
    )
    runs_out_within_lead_time = serializers.BooleanField()
    spools_to_order = serializers.IntegerField()


class FarmSettingsSerializer(ModelSerializer):
    """The owner's farm-wide settings: cost rates, Etsy's fees, reorders, the planner."""

    class Meta:
        model = FarmSettings
        fields = [
            "currency",
            "machine_hourly_rate",
            "energy_price_per_kwh",
            "etsy_transaction_fee_pct",
            "etsy_payment_fee_pct",
            "etsy_payment_fee_fixed",
            "etsy_listing_fee",
            "reorder_lead_days",
            "spool_grams",
            "swap_minutes",
            "auto_dispatch",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
