"""REST endpoints for orders, product profiles and the Etsy sync."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from j3d.lib.api import parse_id
from j3d.lib.errors import NotFound
from j3d.lib.pagination import LinkHeaderPagination
from j3d.lib.parsers import StrictJSONParser
from orders.models import EtsyConnection, Order, OrderItem, ProductProfile
from orders.serializers import (
    ErrorSerializer,
    EtsyAuthorizeSerializer,
    EtsyConnectionSerializer,
    EtsyConnectSerializer,
    EtsySyncRequestSerializer,
    EtsySyncResultSerializer,
    OrderFilterSerializer,
    OrderSerializer,
    OrderUpdateSerializer,
    ProductProfileJSONSerializer,
    ProductProfileSerializer,
    ProfileFromItemSerializer,
    ShipSerializer,
    UnmatchedItemSerializer,
)
from orders.services import (
    order_create_manual,
    order_update,
    product_profile_create_from_item,
    product_profile_save,
)
from orders.services.etsy import (
    EtsyFailed,
    EtsyNotConnected,
    etsy_connect_start,
    etsy_connection_update,
    etsy_disconnect,
    etsy_sync_orders,
    order_ship,
)


class OrderViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The shop owner's orders with their items; POST records a manual order."""

    serializer_class = OrderSerializer
    pagination_class = LinkHeaderPagination
    extra_error_responses = {"POST": ("409",)}  # ship: jobs not all done yet

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Order.objects.none()
        orders = Order.objects.for_owner(self.request.user).prefetch_related("items")
        if self.action != "list":
            return orders
        query = OrderFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return orders.matching(**query.validated_data)

    @extend_schema(parameters=[OrderFilterSerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ShipSerializer, responses={200: OrderSerializer, 502: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str | None = None) -> Response:
        """Mark the order shipped once all its jobs are done (409 before); an Etsy order is marked
        shipped on Etsy too when the shop was connected with mark_shipped (502: Etsy refused)."""
        body = ShipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if parse_id(pk) is None:
            raise NotFound(f"No order with id {pk}.")
        try:
            order = order_ship(user=request.user, order_id=parse_id(pk), **body.validated_data)
        except EtsyFailed as failed:
            return Response({"detail": str(failed)}, status=status.HTTP_502_BAD_GATEWAY)
        return Response(OrderSerializer(order, context={"request": request}).data)

    @extend_schema(request=OrderUpdateSerializer, responses={200: OrderSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change the order's ship-by date (``due_by``) or notes; a new ship-by date re-plans the
        farm (its jobs' deadlines move with it)."""
        order = self.get_object()
        body = OrderUpdateSerializer(order, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        order = order_update(order=order, **body.validated_data)
        return Response(OrderSerializer(order, context={"request": request}).data)

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


class EtsyConnectView(APIView):
    """POST /api/etsy/connect: the Etsy page to send the owner to ("Connect Etsy shop")."""

    extra_error_responses = {"POST": ("409",)}

    @extend_schema(request=EtsyConnectSerializer, responses={200: EtsyAuthorizeSerializer})
    def post(self, request: Request) -> Response:
        body = EtsyConnectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        url = etsy_connect_start(user=request.user, **body.validated_data)
        return Response({"authorize_url": url})


class EtsyConnectionView(APIView):
    """`/api/etsy/connection`: the connected shop and its sync health (GET), the per-shop options
    (PATCH), or forget the shop's tokens (DELETE; its orders stay)."""

    extra_error_responses = {"GET": ("404",), "PATCH": ("404",), "DELETE": ("404",)}

    def get_object(self) -> EtsyConnection:
        connection = EtsyConnection.objects.filter(user=self.request.user).first()
        if connection is None:
            raise EtsyNotConnected("Etsy is not connected.")
        return connection

    @extend_schema(responses={200: EtsyConnectionSerializer})
    def get(self, request: Request) -> Response:
        return Response(EtsyConnectionSerializer(self.get_object()).data)

    @extend_schema(request=EtsyConnectionSerializer, responses={200: EtsyConnectionSerializer})
    def patch(self, request: Request) -> Response:
        connection = self.get_object()
        body = EtsyConnectionSerializer(connection, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        connection = etsy_connection_update(connection=connection, **body.validated_data)
        return Response(EtsyConnectionSerializer(connection).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        etsy_disconnect(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EtsySyncView(APIView):
    """POST /api/etsy/sync-orders: import new and changed Etsy receipts now, with the counts.

    400 when no shop is connected; 409 while another sync of the shop runs or the shop must be
    connected again; 502 when Etsy failed part-way (the counts say what got in; the next sync goes
    on safely)."""

    extra_error_responses = {"POST": ("409",)}

    @extend_schema(
        request=EtsySyncRequestSerializer,
        responses={200: EtsySyncResultSerializer, 502: EtsySyncResultSerializer},
    )
    def post(self, request: Request) -> Response:
        body = EtsySyncRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = etsy_sync_orders(user=request.user, **body.validated_data)
        except EtsyNotConnected as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        answer = status.HTTP_200_OK if result.complete else status.HTTP_502_BAD_GATEWAY
        return Response(result.as_dict(), status=answer)


# Orders whose items still need printing: where an item without a profile is a gap.
TO_PRINT = [Order.Status.PENDING, Order.Status.PAID, Order.Status.IN_PRODUCTION]


class UnmatchedItemsView(generics.ListAPIView):
    """GET /api/orders/unmatched-items: items of orders still to print (pending, paid, printing)
    that no product profile prints yet, newest first, so each can become a profile in one step."""

    serializer_class = UnmatchedItemSerializer
    pagination_class = LinkHeaderPagination

    def get_queryset(self) -> QuerySet[OrderItem]:
        if getattr(self, "swagger_fake_view", False):
            return OrderItem.objects.none()
        return (
            OrderItem.objects.filter(
                order__user=self.request.user,
                order__status__in=TO_PRINT,
                product_profile__isnull=True,
            )
            .select_related("order")
            .order_by("-order__created_at", "-order_id", "id")
        )


class ProfileFromItemView(APIView):
    """POST /api/orders/unmatched-items/<item_id>/create-profile: a product profile from this
    item (title, SKU, Etsy listing, optionally its variation), linked to every item it matches."""

    @extend_schema(
        request=ProfileFromItemSerializer,
        responses={201: ProductProfileSerializer},
    )
    def post(self, request: Request, item_id: str) -> Response:
        if parse_id(item_id) is None:
            raise NotFound(f"No order item with id {item_id}.")
        body = ProfileFromItemSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        profile = product_profile_create_from_item(
            user=request.user, item_id=parse_id(item_id), **body.validated_data
        )
        data = ProductProfileSerializer(profile, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)
