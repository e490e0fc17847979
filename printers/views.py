"""Server-rendered pages for the shop floor."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.views.generic import ListView

from printers.models import Printer, PrinterStatus

# What the farm page shows first (static/printers/farm.js keeps the same order when it refreshes):
# a printer that cannot be reached is a problem, never hidden at the end.
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
