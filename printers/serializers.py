"""API shapes of printers and their materials (field names as in the integration guide)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from j3d.lib.schema import dataclass_schema
from j3d.lib.serializers import ModelSerializer, Serializer
from printers.bambu.snapshot import Snapshot
from printers.models import BambuMaterial, Printer, PrinterStatus, SpareSpool


@extend_schema_field(dataclass_schema(Snapshot))
class SnapshotField(serializers.JSONField):
    """The printer's last decoded report (printers.bambu.snapshot.Snapshot.to_dict())."""


class PrinterStatusSerializer(ModelSerializer):
    """The live status the printer link keeps; `snapshot` is the last decoded report.

    The connection outcome: `connected_since` while the link is up; otherwise `link_error` (why),
    `link_error_kind` (no_route, refused, timeout, tls, auth, silent, config, error),
    `failing_since` (the first failure of this outage) and `retry_at` (the next attempt)."""

    snapshot = SnapshotField(read_only=True)
    # "" while the link is fine: a documented value, not a gap in the enum.
    link_error_kind = serializers.ChoiceField(
        choices=[("", "no error"), *PrinterStatus.LinkErrorKind.choices], read_only=True
    )

    class Meta:
        model = PrinterStatus
        fields = [
            "state",
            "online",
            "last_report_at",
            "connected_since",
            "link_error",
            "link_error_kind",
            "failing_since",
            "retry_at",
            "snapshot",
            "updated_at",
        ]
        read_only_fields = fields


class BambuMaterialSerializer(ModelSerializer):
    printer_id = serializers.IntegerField(read_only=True)
    remaining_grams = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = BambuMaterial
        fields = [
            "id",
            "printer_id",
            "slot",
            "material_type",
            "color",
            "color_hex",
            "weight_grams",
            "remaining_pct",
            "remaining_grams",
            "vendor",
            "cost_per_kg",
            "notes",
            "is_empty",
            "loaded_at",
            "last_synced",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "printer_id",
            "is_empty",
            "last_synced",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"slot": {"required": True}, "material_type": {"required": True}}
        # Slot uniqueness per printer is checked by the service, which knows the printer.
        validators: list = []


class MaterialUnloadedSerializer(Serializer):
    """The answer to DELETE /api/bambu/materials/<id>."""

    message = serializers.CharField()
    id = serializers.IntegerField()


class PrinterSerializer(ModelSerializer):
    """A printer; its access code and cloud token can be written but are never shown."""

    has_access_code = serializers.SerializerMethodField()
    status = PrinterStatusSerializer(read_only=True, allow_null=True)
    materials = BambuMaterialSerializer(many=True, read_only=True)

    class Meta:
        model = Printer
        fields = [
            "id",
            "name",
            "model",
            "serial",
            "connection_type",
            "host",
            "mqtt_port",
            "ftps_port",
            "access_code",
            "has_access_code",
            "cloud_user_id",
            "cloud_token",
            "tls_verify",
            "ca_cert",
            "enabled",
            "hourly_rate",
            "power_watts",
            "status",
            "materials",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "access_code": {"write_only": True, "style": {"input_type": "password"}},
            "cloud_token": {"write_only": True, "style": {"input_type": "password"}},
        }
        # Every rule (connection needs, the serial once per owner, a PEM CA) is Printer's own:
        # the service's full_clean() answers 400 naming the field, stored values included.
        validators: list = []

    def get_has_access_code(self, printer: Printer) -> bool:
        return bool(printer.access_code)


class SpareSpoolSerializer(ModelSerializer):
    class Meta:
        model = SpareSpool
        fields = [
            "id",
            "material_type",
            "color",
            "color_hex",
            "vendor",
            "quantity",
            "grams_per_spool",
            "cost_per_kg",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
