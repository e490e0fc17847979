"""POST /api/printers/<printer_id>/print: send a queued job to a printer.

It lives in scheduling (not printers/api.py) because printers may not import scheduling.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from j3d.lib.api import get_owned_or_404
from j3d.lib.serializers import ModelSerializer, Serializer
from printers.models import Printer
from scheduling.models import ScheduledPrint
from scheduling.serializers import JobUploadSerializer
from scheduling.services.dispatch import job_dispatch


class PrintRequestSerializer(Serializer):
    scheduled_print_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class DispatchedJobSerializer(ModelSerializer):
    scheduled_print_id = serializers.IntegerField(source="id")
    upload = JobUploadSerializer(source="*", read_only=True)

    class Meta:
        model = ScheduledPrint
        fields = [
            "scheduled_print_id",
            "printer",
            "status",
            "printer_task_id",
            "printer_subtask_id",
            "dispatched_at",
            "upload",
        ]
        read_only_fields = fields


class PrinterPrintView(APIView):
    """Upload the job's sliced file to the printer and start it (202; the job follows the
    printer from there, its `upload` shows the upload's progress). 409 while the printer is
    busy, 400 without a sliced file."""

    extra_error_responses = {"POST": ("409",)}

    @extend_schema(request=PrintRequestSerializer, responses={202: DispatchedJobSerializer})
    def post(self, request: Request, printer_id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, printer_id)
        incoming = PrintRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        job = get_owned_or_404(
            ScheduledPrint.objects.all(),
            request.user,
            incoming.validated_data["scheduled_print_id"],
        )
        job = job_dispatch(job=job, printer=printer)
        return Response(DispatchedJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
