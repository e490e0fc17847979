from django.contrib import admin

from notifications.models import PrintNotification
from printers.admin import PrinterAdmin


class PrintNotificationInline(admin.StackedInline):
    model = PrintNotification
    extra = 0
    max_num = 1
    exclude = ["user"]


# printers cannot import notifications (it sits below), so the settings join its page from here.
PrinterAdmin.inlines = [*PrinterAdmin.inlines, PrintNotificationInline]


@admin.register(PrintNotification)
class PrintNotificationAdmin(admin.ModelAdmin):
    list_display = ["printer", "user", "notify_print_failed", "email_enabled", "webhook_url"]
    list_select_related = ["printer", "user"]
