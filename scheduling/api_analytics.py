"""GET /api/analytics/<summary|printers|products|orders|materials>?from=&to= (JSON, or CSV with
?format=csv): the shop owner's own figures only."""

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from j3d.lib.renderers import CSVRenderer, CSVTable, cell
from j3d.lib.serializers import query_errors
from scheduling.serializers import (
    AnalyticsMaterialSerializer,
    AnalyticsOrderSerializer,
    AnalyticsPrinterSerializer,
    AnalyticsProductSerializer,
    AnalyticsRangeSerializer,
    AnalyticsSummarySerializer,
    MaterialsQuerySerializer,
)
from scheduling.services import analytics
from scheduling.services.analytics import Range

RANGE_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day, UTC (default: to - 29)"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day, UTC (default: today)"),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: a CSV download"),
]
ERRORS = {
    (400, "application/json"): OpenApiResponse(
        OpenApiTypes.OBJECT, description="{field: [reason]} (errors are always JSON)"
    ),
}
CSV = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The rows as CSV")}


def responses(serializer: Any) -> dict[Any, Any]:
    return {(200, "application/json"): serializer, **CSV, **ERRORS}


class AnalyticsView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]
    query_serializer: type[Serializer] = AnalyticsRangeSerializer
    output_serializer: type[Serializer]
    many = True

    def compute(self, user: Any, span: Range, query: dict[str, Any]) -> Any:
        raise NotImplementedError

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        errors = query_errors(request.query_params, ["format"])
        if errors:
            raise ValidationError(errors)
        if request.query_params.get("format", None) == "":  # DRF reads an empty one as absent
            raise ValidationError({"format": ["Give json or csv, or leave the parameter out."]})
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:  # DRF's answer to an unknown ?format=; it is a bad parameter
            raise ValidationError({"format": ["Use json or csv."]}) from None

    def csv_rows(self, data: Any) -> Any:
        rows = data if isinstance(data, list) else [data]
        if not rows:
            return []
        header = list(dict.fromkeys(key for row in rows for key in row))
        return CSVTable(
            header=header, rows=[[cell(_flat(row.get(key))) for key in header] for row in rows]
        )

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.status_code >= 400:  # a refusal reads the same in any format: JSON
            request.accepted_renderer, request.accepted_media_type = (
                JSONRenderer(),
                "application/json",
            )
        return super().finalize_response(request, response, *args, **kwargs)

    def get(self, request: Request) -> Response:
        query = self.query_serializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        span = Range(first=query.validated_data["from"], last=query.validated_data["to"])
        result = self.compute(request.user, span, query.validated_data)
        data = analytics.plain(result)
        if request.accepted_renderer.format == "csv":
            name = f"{self.csv_name}-{span.first}-{span.last}.csv"
            return Response(
                self.csv_rows(data),
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return Response(data)


def _flat(value: Any) -> Any:
    """A CSV cell: failure reasons as "reason (count); ..."; other lists are left out."""
    if isinstance(value, list):
        return "; ".join(
            f"{item['reason']} ({item['count']})" for item in value if "reason" in item
        )
    return value


@extend_schema(parameters=RANGE_PARAMETERS, responses=responses(AnalyticsSummarySerializer))
class SummaryView(AnalyticsView):
    """The farm's totals over the range: attempts, failures, costs, grams, revenue and margin of
    the orders created in it."""

    output_serializer = AnalyticsSummarySerializer
    many = False
    csv_name = "summary"

    def compute(self, user: Any, span: Range, query: dict[str, Any]) -> Any:
        return analytics.analytics_summary(user=user, span=span)


@extend_schema(
    parameters=RANGE_PARAMETERS,
    responses=responses(AnalyticsPrinterSerializer(many=True)),
)
class PrintersView(AnalyticsView):
    """Per printer: attempts, failure rate and top reasons, costs, utilisation overall and per
    day (the CSV has one row per printer and day)."""

    output_serializer = AnalyticsPrinterSerializer
    csv_name = "printers"

    def compute(self, user: Any, span: Range, query: dict[str, Any]) -> Any:
        return analytics.analytics_printers(user=user, span=span)

    def csv_rows(self, data: Any) -> Any:
        """One row per printer and day: the printer's figures (made safe once), then the day's."""
        if not data:
            return []
        keys = [key for key in data[0] if key != "daily"]
        rows = []
        for printer in data:
            figures = [cell(_flat(printer[key])) for key in keys]
            for day in printer["daily"]:
                rows.append([*figures, day["date"], day["printing_hours"], day["utilisation_pct"]])
        header = [*keys, "date", "day_printing_hours", "day_utilisation_pct"]
        return CSVTable(header=header, rows=rows)


@extend_schema(
    parameters=RANGE_PARAMETERS,
    responses=responses(AnalyticsProductSerializer(many=True)),
)
class ProductsView(AnalyticsView):
    """Per product profile: failure rate and reasons, cost per unit made, units sold, revenue,
    fees and margin per unit."""

    output_serializer = AnalyticsProductSerializer
    csv_name = "products"

    def compute(self, user: Any, span: Range, query: dict[str, Any]) -> Any:
        return analytics.analytics_products(user=user, span=span)


@extend_schema(
    parameters=RANGE_PARAMETERS,
    responses=responses(AnalyticsOrderSerializer(many=True)),
)
class OrdersView(AnalyticsView):
    """Each order created in the range: revenue, Etsy fees, the cost of every attempt printed for
    it (failed ones and reprints included), margin."""

    output_serializer = AnalyticsOrderSerializer
    csv_name = "orders"

    def compute(self, user: Any, span: Range, query: dict[str, Any]) -> Any:
        return analytics.analytics_orders(user=user, span=span)


@extend_schema(
    parameters=[
        *RANGE_PARAMETERS,
        OpenApiParameter("by", str, enum=["type", "order"], description="default: type"),
    ],
    responses=responses(AnalyticsMaterialSerializer(many=True)),
)
class MaterialsView(AnalyticsView):
    """Filament used and its cost, by material type and colour (or by order with ?by=order)."""

    query_serializer = MaterialsQuerySerializer
    output_serializer = AnalyticsMaterialSerializer
    csv_name = "materials"

    def compute(self, user: Any, span: Range, query: dict[str, Any]) -> Any:
        return analytics.analytics_materials(user=user, span=span, by=query["by"])
