"""REST endpoints for orders, product profiles and the Etsy sync."""

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from j3d.lib.parsers import StrictJSONParser
from orders.models import Order, ProductProfile
from orders.serializers import (
    OrderSerializer,
    ProductProfileJSONSerializer,
    ProductProfileSerializer,
)
from orders.services import order_create_manual, product_profile_save


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("status", enum=Order.Status.values, description="only these")]
    )
)
class OrderViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The shop owner's orders with their items; POST records a manual order."""

    serializer_class = OrderSerializer

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Order.objects.none()
        orders = Order.objects.for_owner(self.request.user).prefetch_related("items")
        wanted = self.request.query_params.get("status")
        if wanted is not None:
            if wanted not in Order.Status.values:
                raise ValidationError({"status": [f"'{wanted}' is not an order status."]})
            orders = orders.filter(status=wanted)
        return orders

    def perform_create(self, serializer: OrderSerializer) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = order_create_manual(
            user=self.request.user, items=data.pop("items"), **data
        )


_PROFILE_BODY = extend_schema(
    request={
        "application/json": ProductProfileJSONSerializer,
        "multipart/form-data": ProductProfileSerializer,
    }
)


@extend_schema_view(create=_PROFILE_BODY, update=_PROFILE_BODY, partial_update=_PROFILE_BODY)
class ProductProfileViewSet(viewsets.ModelViewSet):
    """How each product prints; the sliced file can be uploaded as multipart form data."""

    serializer_class = ProductProfileSerializer
    parser_classes = [StrictJSONParser, parsers.MultiPartParser]

    def get_queryset(self) -> QuerySet[ProductProfile]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return ProductProfile.objects.none()
        return ProductProfile.objects.for_owner(self.request.user)

    def perform_create(self, serializer: ProductProfileSerializer) -> None:
        profile = ProductProfile(user=self.request.user)
        serializer.instance = product_profile_save(profile=profile, **serializer.validated_data)

    def perform_update(self, serializer: ProductProfileSerializer) -> None:
        serializer.instance = product_profile_save(
            profile=serializer.instance, **serializer.validated_data
        )


class EtsySyncView(APIView):
    """POST /api/etsy/sync-orders: pulls paid receipts once a shop is connected (Etsy issue)."""

    @extend_schema(request=None, responses={400: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        return Response(
            {
                "success": False,
                "detail": "Etsy is not connected. Connect your Etsy shop first.",
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
