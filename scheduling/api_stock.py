"""GET /api/materials/stock and /api/materials/reorder: filament across the farm (owner's own)."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling.serializers import StockRowSerializer
from scheduling.services.stock import material_reorder, material_stock


class StockView(APIView):
    """Per material type and colour: grams on hand, planned, used per day, days left."""

    @extend_schema(responses={200: StockRowSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(StockRowSerializer(material_stock(user=request.user), many=True).data)


class ReorderView(APIView):
    """What runs out within the farm's lead time (FarmSettings.reorder_lead_days), with the
    spools to order."""

    @extend_schema(responses={200: StockRowSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(StockRowSerializer(material_reorder(user=request.user), many=True).data)
