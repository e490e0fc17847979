from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from notifications.models import (
    AppriseChannel,
    Delivery,
    MaintenanceTask,
    NotificationPreferences,
    PrintNotification,
)
from notifications.services.deliveries import notifications_send_test
from notifications.services.maintenance import maintenance_mark_done
from notifications.transports import masked_url


class AppriseChannelForm(forms.ModelForm):
    """The URL holds the service's token: typed in, never shown back (blank keeps it)."""

    url = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="An Apprise URL, e.g. discord://id/token or ntfys://ntfy.sh/topic. "
        "Leave blank to keep the current one.",
    )

    class Meta:
        model = AppriseChannel
        fields = ["user", "name", "url", "enabled"]

    def clean_url(self) -> str:
        url = self.cleaned_data.get("url") or ""
        if not url and self.instance.pk:
            return self.instance.url
        if not url:
            raise forms.ValidationError("Give the channel's Apprise URL.")
        return url


class PrintNotificationInline(admin.StackedInline):
    """A printer's settings on its page (assembled in j3d/admin.py)."""

    model = PrintNotification
    extra = 0
    max_num = 1
    exclude = ["user"]


@admin.register(PrintNotification)
class PrintNotificationAdmin(admin.ModelAdmin):
    list_display = ["printer", "user", "notify_print_failed", "email_enabled", "webhook_url"]
    list_select_related = ["printer", "user"]


@admin.action(description="Send a test message through every enabled channel")
def send_test(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for settings_row in queryset.select_related("printer"):
        rows = notifications_send_test(printer=settings_row.printer)
        outcome = ", ".join(f"{r.channel}: {r.status}" for r in rows) or "no channel enabled"
        level = messages.SUCCESS if all(r.status == "delivered" for r in rows) else messages.WARNING
        modeladmin.message_user(request, f"{settings_row.printer}: {outcome}", level)


PrintNotificationAdmin.actions = [send_test]


@admin.register(NotificationPreferences)
class NotificationPreferencesAdmin(admin.ModelAdmin):
    list_display = ["user", "email_enabled", "quiet_hours_start", "quiet_hours_end", "time_zone"]
    list_select_related = ["user"]
    # The signing secret is shown once, through the API that creates it; never here.
    exclude = ["webhook_secret"]
    readonly_fields = ["webhook_secret_created_at"]


@admin.register(AppriseChannel)
class AppriseChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "hint", "enabled"]
    list_filter = ["enabled"]
    list_select_related = ["user"]
    form = AppriseChannelForm

    @admin.display(description="goes to")
    def hint(self, channel: AppriseChannel) -> str:
        return masked_url(channel.url)


@admin.action(description="Mark done (reset the counters)")
def mark_done(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for task in queryset:
        maintenance_mark_done(task=task)
    modeladmin.message_user(request, f"{queryset.count()} maintenance task(s) reset.")


@admin.register(MaintenanceTask)
class MaintenanceTaskAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "printer",
        "every_print_hours",
        "every_days",
        "print_hours_since_done",
        "last_done_at",
        "due_announced_at",
    ]
    list_select_related = ["printer"]
    readonly_fields = ["print_hours_since_done", "due_announced_at"]
    exclude = ["user"]
    actions = [mark_done]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every attempt to tell someone, read-only."""

    list_display = [
        "created_at",
        "event_type",
        "printer",
        "channel",
        "target",
        "status",
        "attempts",
        "response_code",
        "error",
    ]
    list_filter = ["status", "channel", "event_type"]
    list_select_related = ["printer"]
    search_fields = ["delivery_id", "target", "error"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False
