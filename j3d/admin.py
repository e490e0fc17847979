"""The admin pages that show more than one app's rows, assembled in one place.

Each app's admin.py registers its own pages. A page that also shows what an app above it owns (a
printer's notification settings, the "schedule prints" action on orders) cannot be built in the
lower app, because printers and orders never import scheduling or notifications; rather than the
upper app patching the lower app's admin class at import time, the page is registered here from
the pieces each app offers. The j3d app's own page, the event log, is registered here too.
"""

from django.contrib import admin

from j3d.models import Event
from notifications.admin import PrintNotificationInline
from orders import admin as orders_admin
from orders.models import Order
from printers import admin as printers_admin
from printers.models import Printer
from scheduling.admin import PrinterActionForm, schedule_prints


@admin.register(Printer)
class PrinterAdmin(printers_admin.PrinterAdmin):
    inlines = [*printers_admin.PrinterAdmin.inlines, PrintNotificationInline]


@admin.register(Order)
class OrderAdmin(orders_admin.OrderAdmin):
    action_form = PrinterActionForm
    actions = [*(orders_admin.OrderAdmin.actions or []), schedule_prints]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The event log, read-only: history is what happened, not something to edit."""

    list_display = [
        "id",
        "type",
        "user",
        "printer",
        "job_id",
        "order_id",
        "occurred_at",
        "status",
        "attempts",
    ]
    list_filter = ["status", "type", "occurred_at"]
    list_select_related = ["user", "printer"]
    search_fields = ["type", "user__username", "printer__name", "last_error"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False  # the log grows; counting it on every page is wasted work

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
