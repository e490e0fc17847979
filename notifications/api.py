"""REST endpoints of notifications: per-printer settings (the guide's), preferences, channels,
maintenance, test messages and the delivery log."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from j3d.lib.api import get_owned_or_404
from j3d.lib.pagination import PagePagination
from notifications.models import (
    AppriseChannel,
    Delivery,
    MaintenanceTask,
    NotificationPreferences,
    PrintNotification,
)
from notifications.serializers import (
    AppriseChannelSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    MaintenanceTaskSerializer,
    NotificationPreferencesSerializer,
    PrintNotificationSerializer,
    WebhookSecretSerializer,
)
from notifications.services.deliveries import notifications_send_test
from notifications.services.maintenance import (
    maintenance_mark_done,
    maintenance_task_create,
    maintenance_task_update,
)
from notifications.services.preferences import (
    channel_create,
    channel_update,
    notification_settings_get,
    notification_settings_update,
    preferences_get,
    preferences_update,
    webhook_secret_rotate,
)
from printers.models import Printer


class NotificationSettingsView(generics.GenericAPIView):
    """`/api/bambu/notifications/<printer_id>`: read (defaults on first read) or change."""

    serializer_class = PrintNotificationSerializer

    def get_queryset(self) -> QuerySet[PrintNotification]:
        return PrintNotification.objects.for_owner(self.request.user)

    def get_object(self) -> PrintNotification:
        """The settings of printer <printer_id> (also what OPTIONS describes)."""
        printer_id = self.kwargs["printer_id"]
        printer = get_owned_or_404(Printer.objects.all(), self.request.user, printer_id)
        return notification_settings_get(printer=printer)

    def get(self, request: Request, printer_id: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def put(self, request: Request, printer_id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, printer_id)
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        settings = notification_settings_update(printer=printer, **serializer.validated_data)
        return Response(self.get_serializer(settings).data)

    patch = put


class NotificationTestView(generics.GenericAPIView):
    """POST /api/bambu/notifications/<printer_id>/test: send a test message through every channel
    enabled for the printer now, and answer each channel's outcome (delivered or why not)."""

    serializer_class = DeliverySerializer

    def get_queryset(self) -> QuerySet[Delivery]:
        return Delivery.objects.for_owner(self.request.user)

    @extend_schema(request=None, responses={200: DeliverySerializer(many=True)})
    def post(self, request: Request, printer_id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, printer_id)
        rows = notifications_send_test(printer=printer)
        return Response(self.get_serializer(rows, many=True).data)


class PreferencesView(generics.GenericAPIView):
    """`/api/notifications/preferences`: the owner's quiet hours, offline threshold, and the
    channels for shop-wide events (orders, Etsy)."""

    serializer_class = NotificationPreferencesSerializer

    def get_object(self) -> NotificationPreferences:
        return preferences_get(user_id=self.request.user.pk)

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def put(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        preferences = preferences_update(user_id=request.user.pk, **serializer.validated_data)
        return Response(self.get_serializer(preferences).data)

    patch = put


class WebhookSecretView(generics.GenericAPIView):
    """POST /api/notifications/webhook-secret: a new signing secret for every webhook of yours,
    shown this once. Receivers checking the old one fail from now on."""

    serializer_class = WebhookSecretSerializer

    @extend_schema(request=None, responses={201: WebhookSecretSerializer})
    def post(self, request: Request) -> Response:
        secret = webhook_secret_rotate(user_id=request.user.pk)
        return Response({"webhook_secret": secret}, status=status.HTTP_201_CREATED)


class AppriseChannelViewSet(viewsets.ModelViewSet):
    """`/api/notifications/channels`: chat and push channels as Apprise URLs."""

    serializer_class = AppriseChannelSerializer

    def get_queryset(self) -> QuerySet[AppriseChannel]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return AppriseChannel.objects.none()
        return AppriseChannel.objects.for_owner(self.request.user)

    def perform_create(self, serializer: AppriseChannelSerializer) -> None:
        serializer.instance = channel_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: AppriseChannelSerializer) -> None:
        serializer.instance = channel_update(
            channel=serializer.instance, **serializer.validated_data
        )


class MaintenanceTaskViewSet(viewsets.ModelViewSet):
    """`/api/notifications/maintenance`: recurring chores per printer; POST `<id>/done` resets
    the counters."""

    serializer_class = MaintenanceTaskSerializer
    # A printer_id that is not yours is a 404, as everywhere in the API.
    extra_error_responses = {"POST": ("404",)}

    def get_queryset(self) -> QuerySet[MaintenanceTask]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return MaintenanceTask.objects.none()
        return MaintenanceTask.objects.for_owner(self.request.user).order_by("printer_id", "id")

    def _fields(self, serializer: MaintenanceTaskSerializer) -> dict[str, Any]:
        fields = dict(serializer.validated_data)
        if "printer_id" in fields:
            fields["printer"] = get_owned_or_404(
                Printer.objects.all(), self.request.user, fields.pop("printer_id")
            )
        return fields

    def perform_create(self, serializer: MaintenanceTaskSerializer) -> None:
        serializer.instance = maintenance_task_create(
            user_id=self.request.user.pk, **self._fields(serializer)
        )

    def perform_update(self, serializer: MaintenanceTaskSerializer) -> None:
        serializer.instance = maintenance_task_update(
            task=serializer.instance, **self._fields(serializer)
        )

    @extend_schema(request=None, responses={200: MaintenanceTaskSerializer})
    @action(detail=True, methods=["post"])
    def done(self, request: Request, pk: str | None = None) -> Response:
        task = maintenance_mark_done(task=self.get_object())
        return Response(self.get_serializer(task).data)


class DeliveryListView(generics.ListAPIView):
    """GET /api/notifications/deliveries: the delivery log, newest first, filterable by
    `status`, `channel`, `printer`, `type` (event type), `since` and `until`."""

    serializer_class = DeliverySerializer
    pagination_class = PagePagination

    def get_queryset(self) -> QuerySet[Delivery]:
        rows = Delivery.objects.for_owner(self.request.user)
        if getattr(self, "swagger_fake_view", False):
            return rows
        query = DeliveryFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return query.narrow(
            rows,
            {
                "status": "status",
                "channel": "channel",
                "printer": "printer_id",
                "type": "event_type",
                "since": "created_at__gte",
                "until": "created_at__lte",
            },
        )

    @extend_schema(parameters=[DeliveryFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
