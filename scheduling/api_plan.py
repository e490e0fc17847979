"""The farm plan over the API: the whole plan, and a person saying a printer's plate is clear."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from j3d.lib.api import get_owned_or_404
from printers.models import Printer
from scheduling.serializers import PlanSerializer, PlateClearedSerializer
from scheduling.services.planning import plan_view, printer_plate_cleared


class PlanView(generics.GenericAPIView):
    """GET /api/plan: per printer its planned jobs with expected start/end and swaps; the jobs
    no printer can take, with the reason. Read from the stored plan (constant queries)."""

    serializer_class = PlanSerializer

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(plan_view(user=request.user)).data)


class PlateClearedView(generics.GenericAPIView):
    """POST /api/printers/<printer_id>/plate-cleared: the build plate is empty again."""

    serializer_class = PlateClearedSerializer
    extra_error_responses = {"POST": ("404",)}

    @extend_schema(request=None, responses={200: PlateClearedSerializer})
    def post(self, request: Request, printer_id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, printer_id)
        planning = printer_plate_cleared(printer=printer)
        return Response(
            {"printer_id": printer.pk, "plate_clear": planning.plate_clear},
            status=status.HTTP_200_OK,
        )
