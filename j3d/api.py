"""The token doors of the REST API: simplejwt's views, answering a login lockout with a 429."""

from typing import Any

from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_logged_in
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt import views
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from j3d.serializers import TokenObtainSerializer


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
