from django.db.models import QuerySet
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from j3d.lib.api import get_owned_or_404
from notifications.models import PrintNotification
from notifications.serializers import PrintNotificationSerializer
from notifications.services import notification_settings_get, notification_settings_update
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
