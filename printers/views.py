"""Server-rendered pages for the shop floor."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.views.generic import ListView

from printers.models import Printer


class FarmView(LoginRequiredMixin, ListView):
    """Every printer of the logged-in owner with its live state and AMS, problems first."""

    template_name = "printers/farm.html"
    context_object_name = "printers"

    def get_queryset(self) -> QuerySet[Printer]:
        return (
            Printer.objects.for_owner(self.request.user)
            .select_related("status")
            .prefetch_related("materials")
        )
