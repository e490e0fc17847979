"""Shared pieces of the REST API: exception handler, per-user id lookups, the router."""

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.generic import View
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from j3d.lib.errors import Conflict, NotFound


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus domain errors, Django validation errors and 400 for non-JSON bodies."""
    if isinstance(exc, Conflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, NotFound | ObjectDoesNotExist):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        exc = exceptions.ParseError(
            f"Send the body as JSON with Content-Type: application/json ({exc.detail})"
        )
    return drf_exception_handler(exc, context)


M = TypeVar("M", bound=models.Model)
MAX_ID = 2**63 - 1


def parse_id(value: Any) -> int | None:
    """A database id from a URL or body value, or None when it cannot be one."""
    if isinstance(value, bool):
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk <= MAX_ID else None


def get_owned_or_404(queryset: models.QuerySet[M], user: Any, pk: Any) -> M:
    """The object with this id if it belongs to `user`; otherwise a 404 that reveals nothing."""
    model = queryset.model
    parsed = parse_id(pk)
    if parsed is None:
        raise Http404(f"No {model._meta.verbose_name} with id {pk}.")
    try:
        return queryset.get(user=user, pk=parsed)
    except model.DoesNotExist:
        raise Http404(f"No {model._meta.verbose_name} with id {pk}.") from None


class OptionalSlashRouter(DefaultRouter):
    """A router whose routes answer with and without the trailing slash.

    DRF's `trailing_slash` argument is a boolean (any true value means "/"), so the optional slash
    is set after construction.
    """

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


class DocsView(SpectacularSwaggerView):
    """The Swagger UI page at /api/docs/.

    OPTIONS answers like any Django view: DRF's metadata response would be rendered by this view's
    only renderer, an HTML template renderer with no template for it (a 500).
    """

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return View.options(self, request, *args, **kwargs)


class NoRouteView(APIView):
    """Any /api/ path that no route matches (`/api/printers/1.5/`): a JSON 404 after the usual
    authentication (401 without credentials), never Django's HTML "Not Found" page."""

    schema = None  # not an operation

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound("No such API path.")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: what Django refuses before any view (a Host header not in ALLOWED_HOSTS, a
    malformed multipart body) is answered in JSON under /api/, like every other API error."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def not_found(request: Any, exception: Exception | None = None) -> Any:
    """Django's 404 for a path no URL matches: JSON under /api/ (an id with a dot or a newline
    matches no route), the HTML page elsewhere."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
