"""The API's two ways of paging a list, both reading their parameters strictly (DRF falls back to
a default for a value it cannot read; the schema promises integers in a range, so anything else
is a 400 naming the parameter, and a page past the end is an empty page).

- LinkHeaderPagination keeps a list endpoint's body a plain JSON array: the integration guide's
  clients read `GET /api/orders/` as an array, so the page travels in headers, GitHub style:
  `?page=N&page_size=M` in, `X-Total-Count` and `Link` (first, prev, next, last) out.
- PagePagination is DRF's `?limit=&offset=` with `count`, `next`, `previous`, `results`, for the
  lists J3D added (logs, history).
- TimeCursorPagination is DRF's cursor (`?cursor=&page_size=`, `next`, `previous`, `results`) over
  a time column, for a log that keeps growing while a client pages (the event history): a cursor
  neither repeats nor skips rows then, and never counts the whole table.
"""

from datetime import UTC
from typing import Any

from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, CursorPagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from j3d.lib.serializers import query_errors


def query_number(request: Request, name: str, default: int, low: int, high: int) -> int:
    """The whole number ``name`` of the query string, ``default`` when absent or empty; given
    once (query_errors)."""
    errors = query_errors(request.query_params, [name])
    if errors:
        raise ValidationError(errors)
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError({name: [f"A whole number from {low} to {high}."]})
    return int(raw)


class LinkHeaderPagination(BasePagination):
    page_size = 50
    max_page_size = 500

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.page = query_number(request, "page", 1, 1, 10**6)
        self.size = query_number(request, "page_size", self.page_size, 1, self.max_page_size)
        self.count = queryset.count()
        start = (self.page - 1) * self.size
        return list(queryset[start : start + self.size])

    def get_paginated_response(self, data: Any) -> Response:
        last = max((self.count + self.size - 1) // self.size, 1)
        url = self.request.build_absolute_uri()
        links = {"first": 1, "last": last}
        if self.page > 1:
            links["prev"] = min(self.page - 1, last)
        if self.page < last:
            links["next"] = self.page + 1
        header = ", ".join(
            f'<{replace_query_param(url, "page", page)}>; rel="{rel}"'
            for rel, page in links.items()
        )
        return Response(data, headers={"X-Total-Count": str(self.count), "Link": header})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema  # the body stays the array; the page is in the headers

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number (1 = newest). X-Total-Count and Link headers say more.",
                "schema": {"type": "integer", "minimum": 1, "maximum": 10**6},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "description": f"Rows a page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


class PagePagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500
    max_offset = 10**9

    def get_limit(self, request: Request) -> int:
        return query_number(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return query_number(request, self.offset_query_param, 0, 0, self.max_offset)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        bounds = {
            self.limit_query_param: (1, self.max_limit),
            self.offset_query_param: (0, self.max_offset),
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"] = {"type": "integer", "minimum": low, "maximum": high}
        return parameters


class TimeCursorPagination(CursorPagination):
    """Subclasses set ``ordering`` to a datetime column first (e.g. ``("-occurred_at", "-id")``)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        return query_number(request, "page_size", self.page_size, 1, self.max_page_size)

    def decode_cursor(self, request: Request) -> Any:
        """DRF's cursor, refused with a 400 naming it when mangled or forged (its position is
        client-held text that becomes a datetime filter)."""
        errors = query_errors(request.query_params, [self.cursor_query_param])
        if errors:
            raise ValidationError(errors)
        try:
            cursor = super().decode_cursor(request)
            if cursor is not None and cursor.position is not None:
                parse_datetime(cursor.position).astimezone(UTC)
        except (NotFound, AttributeError, ValueError, OverflowError):
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from None
        return cursor

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == "page_size":
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
                parameter["description"] = f"Rows a page (default {self.page_size})."
        return parameters
