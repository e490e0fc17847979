"""REST endpoints for print jobs and for turning an order into jobs."""

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from j3d.lib.api import get_owned_or_404
from orders.models import Order
from printers.models import Printer
from scheduling.models import ScheduledPrint
from scheduling.serializers import (
    JobCancelledSerializer,
    ScheduledOrderSerializer,
    ScheduledPrintSerializer,
    ScheduleOrderSerializer,
    StatusFilterSerializer,
)
from scheduling.services.jobs import job_cancel, job_create, job_update, order_schedule_prints


class JobViewMixin:
    serializer_class = ScheduledPrintSerializer

    def get_queryset(self) -> QuerySet[ScheduledPrint]:
        return ScheduledPrint.objects.for_owner(self.request.user)

    def resolve_refs(self, data: dict[str, Any]) -> dict[str, Any]:
        """Swap printer_id/order_id for the caller's own rows (another user's is a 404)."""
        user = self.request.user
        if "printer_id" in data:
            printer_id = data.pop("printer_id")
            data["printer"] = (
                None
                if printer_id is None
                else get_owned_or_404(Printer.objects.all(), user, printer_id)
            )
        if "order_id" in data:
            order_id = data.pop("order_id")
            data["order"] = (
                None if order_id is None else get_owned_or_404(Order.objects.all(), user, order_id)
            )
        return data


class ScheduledPrintCreateView(JobViewMixin, generics.GenericAPIView):
    """POST /api/bambu/scheduled-prints: add a job to a printer's queue."""

    # printer_id and order_id in the body name the caller's own rows.
    extra_error_responses = {"POST": ("404",)}

    @extend_schema(responses={201: ScheduledPrintSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = self.resolve_refs(dict(serializer.validated_data))
        fields.setdefault("printer", None)  # no printer: the farm pool
        job = job_create(user=request.user, **fields)
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)


ID_PARAM = OpenApiParameter(
    "id", int, OpenApiParameter.PATH, description="printer id for GET, job id for PUT/DELETE"
)


@extend_schema(parameters=[ID_PARAM])
class ScheduledPrintView(JobViewMixin, generics.GenericAPIView):
    """`/api/bambu/scheduled-prints/<id>`: the jobs of printer <id> (GET, `?status=`);
    change job <id> (PUT/PATCH, partial) or cancel it (DELETE, kept as history)."""

    # A status move the job may not make, or cancelling a job that is printing or ended.
    extra_error_responses = {"PUT": ("409",), "PATCH": ("409",), "DELETE": ("409",)}

    def get_object(self) -> ScheduledPrint:
        """The job <id> that PUT and DELETE change (also what OPTIONS describes)."""
        return get_owned_or_404(self.get_queryset(), self.request.user, self.kwargs["id"])

    @extend_schema(
        parameters=[StatusFilterSerializer], responses=ScheduledPrintSerializer(many=True)
    )
    def get(self, request: Request, id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, id)
        query = StatusFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        jobs = self.get_queryset().filter(printer=printer).in_queue_order()
        if "status" in query.validated_data:
            jobs = jobs.filter(status=query.validated_data["status"])
        return Response(self.get_serializer(jobs, many=True).data)

    def put(self, request: Request, id: str) -> Response:
        job = self.get_object()
        serializer = self.get_serializer(job, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        job = job_update(job=job, **self.resolve_refs(dict(serializer.validated_data)))
        return Response(self.get_serializer(job).data)

    patch = put

    @extend_schema(responses={200: JobCancelledSerializer})
    def delete(self, request: Request, id: str) -> Response:
        job = job_cancel(job=self.get_object())
        return Response(
            {"message": "Print job cancelled", "id": job.id, "status": job.status},
        )


class PrinterQueueView(JobViewMixin, generics.GenericAPIView):
    """GET /api/bambu/scheduled-prints/<printer_id>/queue: waiting jobs in the order they run."""

    @extend_schema(responses=ScheduledPrintSerializer(many=True))
    def get(self, request: Request, printer_id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, printer_id)
        # Its own jobs, and the pool jobs the plan gives it, in the order they run.
        jobs = (
            self.get_queryset()
            .filter(Q(printer=printer) | Q(printer=None, planned_printer=printer))
            .waiting()
            .in_queue_order()
        )
        return Response(self.get_serializer(jobs, many=True).data)


class OrderSchedulePrintsView(generics.GenericAPIView):
    """POST /api/orders/<order_id>/schedule-prints: one queued job per ordered item."""

    serializer_class = ScheduleOrderSerializer
    # A cancelled order, or one whose jobs are still waiting or printing.
    extra_error_responses = {"POST": ("409",)}

    @extend_schema(responses={201: ScheduledOrderSerializer})
    def post(self, request: Request, order_id: str) -> Response:
        order = get_owned_or_404(Order.objects.all(), request.user, order_id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        printer_id = serializer.validated_data.get("printer_id")
        jobs = order_schedule_prints(
            order=order,
            printer=None
            if printer_id is None
            else get_owned_or_404(Printer.objects.all(), request.user, printer_id),
            material_type=serializer.validated_data.get("material_type") or None,
            start_offset_minutes=serializer.validated_data["start_offset_minutes"],
        )
        return Response(
            {
                "message": f"Scheduled {len(jobs)} print jobs",
                "prints": ScheduledPrintSerializer(jobs, many=True).data,
            },
            status=status.HTTP_201_CREATED,
        )
