"""The project's own REST doors: the JWT token views (a login lockout is a 429) and the event
history (GET /api/events)."""

from typing import Any

from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_logged_in
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt import views
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from j3d.lib.pagination import TimeCursorPagination
from j3d.models import Event
from j3d.serializers import EventQuerySerializer, EventSerializer, TokenObtainSerializer
from printers.models import Printer


class TokenObtainView(views.TokenObtainPairView):
    """POST /api/auth/token/ `{username, password}` -> `{access, refresh}`.

    After too many failed attempts from one address or for one account (django-axes, see
    settings), it answers 429 with how long to wait, whatever the password.
    """

    serializer_class = TokenObtainSerializer
    extra_error_responses = {"POST": ("429",)}

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as error:
            raise InvalidToken(error.args[0]) from error
        except exceptions.AuthenticationFailed:
            # django-axes flags the request it was given, which is this DRF request.
            if getattr(request, "axes_locked_out", False):
                raise locked_out_error(request) from None
            raise
        # A token is a login: the signal updates last_login and resets the account's failures.
        user_logged_in.send(sender=type(serializer.user), request=request, user=serializer.user)
        return Response(serializer.validated_data)


class TokenRefreshView(views.TokenRefreshView):
    """POST /api/auth/token/refresh/ `{refresh}` -> a new `{access, refresh}` pair.

    The refresh token sent is blacklisted: using it again answers 401.
    """


def locked_out_error(request: Any) -> exceptions.Throttled:
    cool_off = get_cool_off(request)
    wait = int(cool_off.total_seconds()) if cool_off else None
    return exceptions.Throttled(
        wait=wait,
        detail="Too many failed logins from this address or for this account; login is paused.",
    )


class EventPagination(TimeCursorPagination):
    """Newest first."""

    ordering = ("-occurred_at", "-id")


class EventListView(generics.ListAPIView):
    """GET /api/events: what happened on the caller's farm, newest first, filtered by
    `?printer=&type=&since=&until=`."""

    serializer_class = EventSerializer
    pagination_class = EventPagination

    def get_queryset(self) -> QuerySet[Event]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Event.objects.none()
        query = EventQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        events = Event.objects.for_owner(self.request.user)
        if "printer" in filters:
            if not Printer.objects.for_owner(self.request.user).filter(pk=filters["printer"]):
                raise serializers.ValidationError(
                    {"printer": [f"You have no printer with id {filters['printer']}."]}
                )
        return query.narrow(
            events,
            {
                "printer": "printer_id",
                "type": "type",
                "since": "occurred_at__gte",
                "until": "occurred_at__lt",
            },
        )

    @extend_schema(parameters=[EventQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
