"""URL map. Every API path answers with and without a trailing slash; clients of the guide vary."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from j3d.api import EventListView, TokenObtainView, TokenRefreshView
from j3d.lib.api import DocsView, NoRouteView, OptionalSlashRouter
from notifications.api import (
    AppriseChannelViewSet,
    DeliveryListView,
    MaintenanceTaskViewSet,
    NotificationSettingsView,
    NotificationTestView,
    PreferencesView,
    WebhookSecretView,
)
from orders.api import (
    EtsyConnectionView,
    EtsyConnectView,
    EtsySyncView,
    OrderViewSet,
    ProductProfileViewSet,
    ProfileFromItemView,
    UnmatchedItemsView,
)
from printers.api import MaterialsView, PrinterViewSet, SpareSpoolViewSet
from printers.api_commands import PrinterCommandsView, PrinterCommandView
from scheduling import api_analytics, api_farm, api_stock
from scheduling.api import (
    OrderSchedulePrintsView,
    PrinterQueueView,
    ScheduledPrintCreateView,
    ScheduledPrintView,
)
from scheduling.api_dispatch import PrinterPrintView
from scheduling.api_plan import PlanView, PlateClearedView

router = OptionalSlashRouter()
router.register("printers", PrinterViewSet, basename="printer")
router.register("orders", OrderViewSet, basename="order")
router.register("product-profiles", ProductProfileViewSet, basename="product-profile")
router.register("notifications/channels", AppriseChannelViewSet, basename="notification-channel")
router.register("notifications/maintenance", MaintenanceTaskViewSet, basename="maintenance-task")
router.register("spare-spools", SpareSpoolViewSet, basename="spare-spool")

ID = r"(?P<id>[^/]+)"

api = [
    re_path(r"^auth/token/?$", TokenObtainView.as_view(), name="token"),
    re_path(r"^auth/token/refresh/?$", TokenRefreshView.as_view(), name="token-refresh"),
    re_path(rf"^bambu/materials/{ID}/?$", MaterialsView.as_view(), name="materials"),
    re_path(
        r"^bambu/notifications/(?P<printer_id>[^/]+)/?$",
        NotificationSettingsView.as_view(),
        name="notification-settings",
    ),
    re_path(
        r"^bambu/notifications/(?P<printer_id>[^/]+)/test/?$",
        NotificationTestView.as_view(),
        name="notification-test",
    ),
    re_path(r"^notifications/preferences/?$", PreferencesView.as_view(), name="notification-prefs"),
    re_path(
        r"^notifications/webhook-secret/?$",
        WebhookSecretView.as_view(),
        name="notification-webhook-secret",
    ),
    re_path(
        r"^notifications/deliveries/?$",
        DeliveryListView.as_view(),
        name="notification-deliveries",
    ),
    re_path(r"^bambu/scheduled-prints/?$", ScheduledPrintCreateView.as_view(), name="jobs"),
    re_path(
        r"^bambu/scheduled-prints/(?P<printer_id>[^/]+)/queue/?$",
        PrinterQueueView.as_view(),
        name="printer-queue",
    ),
    re_path(rf"^bambu/scheduled-prints/{ID}/?$", ScheduledPrintView.as_view(), name="job"),
    re_path(
        r"^orders/(?P<order_id>[^/]+)/schedule-prints/?$",
        OrderSchedulePrintsView.as_view(),
        name="order-schedule-prints",
    ),
    re_path(r"^events/?$", EventListView.as_view(), name="events"),
    re_path(r"^etsy/sync-orders/?$", EtsySyncView.as_view(), name="etsy-sync"),
    re_path(r"^etsy/connect/?$", EtsyConnectView.as_view(), name="etsy-connect"),
    re_path(r"^etsy/connection/?$", EtsyConnectionView.as_view(), name="etsy-connection"),
    re_path(r"^orders/unmatched-items/?$", UnmatchedItemsView.as_view(), name="unmatched-items"),
    re_path(
        r"^orders/unmatched-items/(?P<item_id>[^/]+)/create-profile/?$",
        ProfileFromItemView.as_view(),
        name="profile-from-item",
    ),
    # The printer link's endpoints (commands, print) are added below this line.
    re_path(
        r"^printers/(?P<printer_id>[^/]+)/commands/?$",
        PrinterCommandsView.as_view(),
        name="printer-commands",
    ),
    re_path(
        r"^printers/(?P<printer_id>[^/]+)/commands/(?P<command_id>[^/]+)/?$",
        PrinterCommandView.as_view(),
        name="printer-command",
    ),
    re_path(
        r"^printers/(?P<printer_id>[^/]+)/print/?$",
        PrinterPrintView.as_view(),
        name="printer-print",
    ),
    re_path(
        r"^printers/(?P<printer_id>[^/]+)/plate-cleared/?$",
        PlateClearedView.as_view(),
        name="printer-plate-cleared",
    ),
    re_path(r"^plan/?$", PlanView.as_view(), name="plan"),
    re_path(r"^analytics/summary/?$", api_analytics.SummaryView.as_view(), name="analytics"),
    re_path(r"^analytics/printers/?$", api_analytics.PrintersView.as_view()),
    re_path(r"^analytics/products/?$", api_analytics.ProductsView.as_view()),
    re_path(r"^analytics/orders/?$", api_analytics.OrdersView.as_view()),
    re_path(r"^analytics/materials/?$", api_analytics.MaterialsView.as_view()),
    re_path(r"^farm-settings/?$", api_farm.FarmSettingsView.as_view(), name="farm-settings"),
    re_path(r"^materials/stock/?$", api_stock.StockView.as_view(), name="material-stock"),
    re_path(r"^materials/reorder/?$", api_stock.ReorderView.as_view(), name="material-reorder"),
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", DocsView.as_view(url_name="schema"), name="docs"),
    path("", include(router.urls)),
    re_path(r"^.+$", NoRouteView.as_view(), name="no-route"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include(api)),
    path("", include("orders.urls")),
    path("", include("printers.urls")),
]

handler400 = "j3d.lib.api.bad_request"

handler404 = "j3d.lib.api.not_found"
