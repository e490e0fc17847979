"""Pages of the project itself: the answer to a login lockout (the login page is Django's own)."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from j3d.api import locked_out_error


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: a 429 saying what happened and for how long."""
    error = locked_out_error(request)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": str(error.detail)}, status=429)
    else:
        context = {"minutes": -(-error.wait // 60) if error.wait else None}
        response = render(request, "registration/locked_out.html", context, status=429)
    if error.wait:
        response["Retry-After"] = str(error.wait)
    return response
