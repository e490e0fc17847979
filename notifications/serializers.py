"""API shapes of notification settings, preferences, channels, maintenance and the delivery log."""

from typing import Any

from rest_framework import serializers

from j3d.lib.serializers import LocalTimeField, ModelSerializer, QuerySerializer
from notifications.models import (
    AppriseChannel,
    Delivery,
    MaintenanceTask,
    NotificationPreferences,
    PrintNotification,
    webhook_url_validator,
)
from notifications.transports import masked_url


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
            "notify_offline",
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


class NotificationPreferencesSerializer(ModelSerializer):
    has_webhook_secret = serializers.SerializerMethodField()
    # Both or neither (NotificationPreferences.clean): a rule across two fields and the stored
    # row, which OpenAPI cannot state, so the descriptions say it.
    quiet_hours_start = LocalTimeField(
        allow_null=True,
        required=False,
        help_text=(
            "Local time (in time_zone) when quiet hours begin, like 22:00; null for none. Quiet"
            " hours have both a start and an end or neither: setting one while the other is"
            " (or stays) null is a 400 naming the missing one. Urgent events still get through."
        ),
    )
    quiet_hours_end = LocalTimeField(
        allow_null=True,
        required=False,
        help_text=(
            "Local time when quiet hours end, like 07:00 (before the start: they run over"
            " midnight); null for none. Set it together with quiet_hours_start (both or neither,"
            " else a 400 naming the missing one); equal to the start is a 400."
        ),
    )

    class Meta:
        model = NotificationPreferences
        fields = [
            "email_enabled",
            "webhook_url",
            "has_webhook_secret",
            "webhook_secret_created_at",
            "quiet_hours_start",
            "quiet_hours_end",
            "time_zone",
            "offline_after_minutes",
            "updated_at",
        ]
        read_only_fields = ["has_webhook_secret", "webhook_secret_created_at", "updated_at"]

    def get_has_webhook_secret(self, preferences: NotificationPreferences) -> bool:
        return bool(preferences.webhook_secret)


class WebhookSecretSerializer(serializers.Serializer):
    """The new signing secret, shown this once (verify signatures with the standardwebhooks
    library or any Standard Webhooks implementation)."""

    webhook_secret = serializers.CharField(read_only=True)


class AppriseChannelSerializer(ModelSerializer):
    """A chat/push channel. The Apprise URL holds the service's token: it is written, never shown
    again (``url_hint`` says which service and host it goes to)."""

    url = serializers.CharField(write_only=True, max_length=2000)
    url_hint = serializers.SerializerMethodField()

    class Meta:
        model = AppriseChannel
        fields = ["id", "name", "url", "url_hint", "enabled", "created_at", "updated_at"]
        read_only_fields = ["id", "url_hint", "created_at", "updated_at"]
        validators: list = []  # the name's uniqueness per owner is the model's (full_clean)

    def get_url_hint(self, channel: AppriseChannel) -> str:
        return masked_url(channel.url)


class MaintenanceTaskSerializer(ModelSerializer):
    printer_id = serializers.IntegerField(min_value=1)
    due_reason = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceTask
        fields = [
            "id",
            "printer_id",
            "name",
            "every_print_hours",
            "every_days",
            "last_done_at",
            "print_hours_since_done",
            "due_announced_at",
            "due_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "last_done_at",
            "print_hours_since_done",
            "due_announced_at",
            "due_reason",
            "created_at",
            "updated_at",
        ]

    def get_due_reason(self, task: MaintenanceTask) -> str:
        from django.utils import timezone

        return task.due_reason(timezone.now())


class DeliverySerializer(serializers.ModelSerializer):
    """One attempt log row: which event, which channel, how it went (no secrets: the target is
    masked, the message is what was sent)."""

    event_id = serializers.IntegerField(read_only=True, allow_null=True)
    printer_id = serializers.IntegerField(read_only=True, allow_null=True)
    title = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "delivery_id",
            "event_id",
            "event_type",
            "printer_id",
            "channel",
            "target",
            "title",
            "status",
            "attempts",
            "response_code",
            "error",
            "next_attempt_at",
            "first_attempt_at",
            "last_attempt_at",
            "delivered_at",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields

    def get_title(self, delivery: Delivery) -> str:
        return str(delivery.message.get("title", "")) if isinstance(delivery.message, dict) else ""


class DeliveryFilterSerializer(QuerySerializer):
    status = serializers.ChoiceField(choices=Delivery.Status.choices, required=False)
    channel = serializers.ChoiceField(choices=Delivery.Channel.choices, required=False)
    printer = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    type = serializers.CharField(max_length=64, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
