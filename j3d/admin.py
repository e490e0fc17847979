"""The admin pages that show more than one app's rows, assembled in one place.

Each app's admin.py registers its own pages. A page that also shows what an app above it owns (a
printer's notification settings, the "schedule prints" action on orders) cannot be built in the
lower app, because printers and orders never import scheduling or notifications; rather than the
upper app patching the lower app's admin class at import time, the page is registered here from
the pieces each app offers.
"""

from django.contrib import admin

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
