"""REST endpoints for printers and the materials in their slots."""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from j3d.lib.api import get_owned_or_404
from printers.models import BambuMaterial, Printer, SpareSpool
from printers.serializers import (
    BambuMaterialSerializer,
    MaterialUnloadedSerializer,
    PrinterSerializer,
    SpareSpoolSerializer,
)
from printers.services.materials import (
    material_create,
    material_unload,
    material_update,
    spare_spool_save,
)
from printers.services.printers import printer_create, printer_update


class PrinterViewSet(viewsets.ModelViewSet):
    """The shop owner's printers, each with its live status and AMS materials."""

    serializer_class = PrinterSerializer

    def get_queryset(self) -> QuerySet[Printer]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Printer.objects.none()
        return (
            Printer.objects.for_owner(self.request.user)
            .select_related("status")
            .prefetch_related("materials")
        )

    def perform_create(self, serializer: PrinterSerializer) -> None:
        serializer.instance = printer_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: PrinterSerializer) -> None:
        serializer.instance = printer_update(
            printer=serializer.instance, **serializer.validated_data
        )


ID_PARAM = OpenApiParameter(
    "id",
    int,
    OpenApiParameter.PATH,
    description="printer id for GET/POST, material id for PUT/DELETE",
)


@extend_schema(parameters=[ID_PARAM])
class MaterialsView(generics.GenericAPIView):
    """`/api/bambu/materials/<id>`: list or load materials of printer <id> (GET, POST);
    change or unload material <id> (PUT/PATCH, DELETE), as the integration guide routes them."""

    serializer_class = BambuMaterialSerializer

    def get_queryset(self) -> QuerySet[BambuMaterial]:
        return BambuMaterial.objects.for_owner(self.request.user)

    def get_object(self) -> BambuMaterial:
        """The material <id> that PUT and DELETE change (also what OPTIONS describes)."""
        return get_owned_or_404(self.get_queryset(), self.request.user, self.kwargs["id"])

    @extend_schema(responses=BambuMaterialSerializer(many=True))
    def get(self, request: Request, id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, id)
        materials = self.get_queryset().filter(printer=printer)
        return Response(self.get_serializer(materials, many=True).data)

    @extend_schema(responses={201: BambuMaterialSerializer})
    def post(self, request: Request, id: str) -> Response:
        printer = get_owned_or_404(Printer.objects.all(), request.user, id)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        material = material_create(printer=printer, **serializer.validated_data)
        return Response(self.get_serializer(material).data, status=status.HTTP_201_CREATED)

    def put(self, request: Request, id: str) -> Response:
        # Partial: the guide's examples send only the fields that changed.
        material = self.get_object()
        serializer = self.get_serializer(material, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        material = material_update(material=material, **serializer.validated_data)
        return Response(self.get_serializer(material).data)

    patch = put

    @extend_schema(responses={200: MaterialUnloadedSerializer})
    def delete(self, request: Request, id: str) -> Response:
        material = self.get_object()
        slot = material.slot
        material_unload(material=material)
        return Response({"message": f"Material unloaded from slot {slot}", "id": int(id)})


class SpareSpoolViewSet(viewsets.ModelViewSet):
    """Spools on the shelf (not in a printer) that the stock and reorder figures count."""

    serializer_class = SpareSpoolSerializer

    def get_queryset(self) -> QuerySet[SpareSpool]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return SpareSpool.objects.none()
        return SpareSpool.objects.for_owner(self.request.user)

    def perform_create(self, serializer: SpareSpoolSerializer) -> None:
        spool = SpareSpool(user=self.request.user)
        serializer.instance = spare_spool_save(spool=spool, **serializer.validated_data)

    def perform_update(self, serializer: SpareSpoolSerializer) -> None:
        serializer.instance = spare_spool_save(
            spool=serializer.instance, **serializer.validated_data
        )
