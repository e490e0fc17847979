"""Server-rendered pages for the shop floor."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.views.generic import ListView

from printers.models import Printer, PrinterStatus

# What the farm page shows first: a printer that cannot be reached is a problem, never hidden at
# the end.
PROBLEM_STATES = (
    PrinterStatus.State.FAILED,
    PrinterStatus.State.OFFLINE,
    PrinterStatus.State.PAUSE,
)


class FarmView(LoginRequiredMixin, ListView):
    """Every printer of the logged-in owner with its live state and AMS, problems first."""

    template_name = "printers/farm.html"
    context_object_name = "printers"

    def get_queryset(self) -> QuerySet[Printer]:
        problems_first = Case(
            When(status__state__in=PROBLEM_STATES, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return (
            Printer.objects.for_owner(self.request.user)
            .select_related("status")
            .prefetch_related("materials")
            .order_by(problems_first, "name", "id")
        )


class FarmTilesView(FarmView):
    """The farm page's tiles alone, as its first paint drew them: what the page's script swaps
    in every few seconds (one renderer for a tile, printers/_farm_tiles.html)."""

    template_name = "printers/_farm_tiles.html"
