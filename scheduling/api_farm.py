"""GET|PUT|PATCH /api/farm-settings: the owner's own farm settings (rates, Etsy fees, reorders)."""

from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from scheduling.models import FarmSettings
from scheduling.serializers import FarmSettingsSerializer
from scheduling.services.costs import farm_settings_for, farm_settings_update


class FarmSettingsView(generics.GenericAPIView):
    """The shop owner's farm settings: machine hourly rate and energy price (costs), Etsy's
    transaction and payment fees and listing fee (margins), reorder lead time and spool size
    (stock), spool swap minutes and auto-dispatch (the planner). Missing fields keep their
    value; today's public Etsy fees are the defaults."""

    serializer_class = FarmSettingsSerializer

    def get_object(self) -> FarmSettings:
        return farm_settings_for(user=self.request.user)

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def put(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        farm = farm_settings_update(user=request.user, **serializer.validated_data)
        return Response(self.get_serializer(farm).data)

    patch = put
