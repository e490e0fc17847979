"""REST doors to the command outbox: ask a printer to pause, resume, stop, refresh or change speed.

The link process holding the printer sends the command and records the printer's answer, so a POST
answers 202 at once and the client polls the command's URL for ``acknowledged`` or ``failed``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from j3d.lib.api import get_owned_or_404
from j3d.lib.serializers import ModelSerializer, Serializer
from printers.models import Printer, PrinterCommand
from printers.services.commands import SPEED_LEVELS, USER_ACTIONS, command_enqueue


class CommandRequestSerializer(Serializer):
    action = serializers.ChoiceField(choices=USER_ACTIONS)
    level = serializers.ChoiceField(
        choices=sorted(SPEED_LEVELS),
        required=False,
        help_text="speed only: 1 silent, 2 standard, 3 sport, 4 ludicrous",
    )


class PrinterCommandSerializer(ModelSerializer):
    class Meta:
        model = PrinterCommand
        fields = [
            "id",
            "printer",
            "action",
            "params",
            "status",
            "reason",
            "created_at",
            "sent_at",
            "acked_at",
        ]
        read_only_fields = fields


class PrinterCommandsView(APIView):
    """POST /api/printers/<printer_id>/commands: queue a command (202, status pending)."""

    @extend_schema(request=CommandRequestSerializer, responses={202: PrinterCommandSerializer})
    def post(self, request: Request, printer_id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, printer_id)
        incoming = CommandRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        # Which action needs which parameter is command_enqueue's rule (a speed needs a level).
        params = {"level": data["level"]} if "level" in data else {}
        command = command_enqueue(
            printer=printer, action=data["action"], params=params, user=request.user
        )
        return Response(PrinterCommandSerializer(command).data, status=status.HTTP_202_ACCEPTED)


class PrinterCommandView(APIView):
    """GET /api/printers/<printer_id>/commands/<command_id>: where the command stands."""

    @extend_schema(responses=PrinterCommandSerializer)
    def get(self, request: Request, printer_id: str, command_id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, printer_id)
        command = get_owned_or_404(
            PrinterCommand.objects.filter(printer=printer), request.user, command_id
        )
        return Response(PrinterCommandSerializer(command).data)
