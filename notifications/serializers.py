from typing import Any

from rest_framework import serializers

from j3d.lib.serializers import ModelSerializer
from notifications.models import PrintNotification, webhook_url_validator


class PrintNotificationSerializer(ModelSerializer):
    printer_id = serializers.IntegerField(read_only=True)
    webhook_url = serializers.CharField(
        max_length=500,
        allow_null=True,
        allow_blank=True,
        required=False,
        validators=[webhook_url_validator],
    )

    class Meta:
        model = PrintNotification
        fields = [
            "id",
            "printer_id",
            "notify_print_start",
            "notify_print_complete",
            "notify_print_failed",
            "notify_material_change",
            "notify_maintenance",
            "email_enabled",
            "webhook_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "printer_id", "created_at", "updated_at"]
        validators: list = []

    def validate_webhook_url(self, value: str | None) -> str:
        return value or ""

    def to_representation(self, instance: PrintNotification) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["webhook_url"] = data["webhook_url"] or None
        return data
