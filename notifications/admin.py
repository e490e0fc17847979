from django.contrib import admin

from notifications.models import PrintNotification


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
