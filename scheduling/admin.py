"""Staff tools for the job queue, and the "schedule prints" action on orders."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from j3d.lib.errors import DomainError
from printers.models import Printer
from scheduling.models import (
    FarmPlan,
    FarmSettings,
    MaterialUse,
    PrinterPlanning,
    PrintRecord,
    ScheduledPrint,
)
from scheduling.services.jobs import job_announce_changed, job_update, order_schedule_prints
from scheduling.services.planning import printer_plate_cleared


class PrinterActionForm(ActionForm):
    """The action bar's extra box: the printer that 'move' and 'schedule prints' use."""

    printer = forms.ModelChoiceField(Printer.objects.all(), required=False)


class _PrinterChoice(forms.Form):
    printer = forms.ModelChoiceField(Printer.objects.all())


def _chosen_printer(request: HttpRequest) -> Printer | None:
    # Only the printer box: the action form's own fields are validated by the admin itself.
    form = _PrinterChoice(request.POST)
    return form.cleaned_data["printer"] if form.is_valid() else None


def _apply(modeladmin: admin.ModelAdmin, request: HttpRequest, jobs: QuerySet, **change) -> None:
    done, refused = 0, []
    for job in jobs:
        try:
            job_update(job=job, **change)
            done += 1
        except (DomainError, ValidationError) as error:
            refused.append(f"{job.job_name}: {error}")
    if done:
        modeladmin.message_user(request, f"{done} job(s) updated.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


@admin.register(ScheduledPrint)
class ScheduledPrintAdmin(admin.ModelAdmin):
    list_display = [
        "job_name",
        "printer",
        "status",
        "priority",
        "scheduled_start",
        "order",
        "user",
        "planned_printer",
        "expected_start",
        "expected_end",
        "waiting_reason",
        "upload_state",
        "dispatch_failed_at",
    ]
    list_editable = ["priority"]
    list_filter = ["status", "upload_state", "printer", "user"]
    search_fields = ["job_name", "file_name", "notes"]
    list_select_related = ["printer", "order", "user", "planned_printer"]
    # A job's status moves only through job_move (the actions below), never by editing the field.
    readonly_fields = [
        "status",
        "failed_reason",
        "started_at",
        "completed_at",
        "created_at",
        "updated_at",
        "planned_printer",
        "expected_start",
        "expected_end",
        "planned_swap",
        "planned_slot",
        "waiting_reason",
        "upload_state",
        "upload_progress",
        "upload_started_at",
        "upload_finished_at",
        "upload_attempts",
        "upload_error",
        "dispatch_error",
        "dispatch_failed_at",
    ]
    # The claim (a worker's token and its expiry) is the uploads service's business alone.
    exclude = ["upload_claim", "upload_expires_at", "upload_bytes_sent", "upload_bytes_total"]
    action_form = PrinterActionForm
    actions = ["cancel", "requeue", "move_to_printer"]

    @admin.display(description="Upload progress")
    def upload_progress(self, job: ScheduledPrint) -> str:
        if not job.upload_bytes_total:
            return "-"
        percent = 100 * job.upload_bytes_sent / job.upload_bytes_total
        return f"{job.upload_bytes_sent:,} of {job.upload_bytes_total:,} bytes ({percent:.0f}%)"

    def save_model(self, request: HttpRequest, obj: ScheduledPrint, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.changed_data:  # the list's priority box too: the plan must hear of it
            job_announce_changed(job=obj, fields=tuple(sorted(form.changed_data)))

    @admin.action(description="Cancel selected jobs")
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        _apply(self, request, queryset, status=ScheduledPrint.Status.CANCELLED)

    @admin.action(description="Requeue selected jobs (reprint)")
    def requeue(self, request: HttpRequest, queryset: QuerySet) -> None:
        _apply(self, request, queryset, status=ScheduledPrint.Status.QUEUED)

    @admin.action(description="Move selected jobs to the printer chosen above")
    def move_to_printer(self, request: HttpRequest, queryset: QuerySet) -> None:
        printer = _chosen_printer(request)
        if printer is None:
            self.message_user(request, "Choose a printer first.", messages.ERROR)
            return
        _apply(self, request, queryset, printer=printer)


# An action of the order page (assembled in j3d/admin.py).
@admin.action(description="Schedule prints on the printer chosen above")
def schedule_prints(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    printer = _chosen_printer(request)
    if printer is None:
        modeladmin.message_user(request, "Choose a printer first.", messages.ERROR)
        return
    for order in queryset:
        try:
            jobs = order_schedule_prints(order=order, printer=printer)
            modeladmin.message_user(
                request, f"{order}: {len(jobs)} job(s) queued.", messages.SUCCESS
            )
        except (DomainError, ValidationError) as error:
            modeladmin.message_user(request, f"{order}: {error}", messages.WARNING)


class MaterialUseInline(admin.TabularInline):
    model = MaterialUse
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "material",
        "slot",
        "material_type",
        "color_hex",
        "grams",
        "slicer_grams",
        "ams_grams",
        "cost_per_kg",
        "cost",
    ]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PrintRecord)
class PrintRecordAdmin(admin.ModelAdmin):
    """Each print attempt's use and cost: history, written by J3D, read by staff."""

    list_display = [
        "job_name",
        "user",
        "printer",
        "order",
        "outcome",
        "started_at",
        "print_hours",
        "material_cost",
        "machine_cost",
        "energy_cost",
    ]
    list_filter = ["outcome", "user"]
    search_fields = ["job_name", "failure_reason"]
    date_hierarchy = "started_at"
    list_select_related = ["user", "printer", "order"]
    readonly_fields = [f.name for f in PrintRecord._meta.fields]
    inlines = [MaterialUseInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(FarmSettings)
class FarmSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "currency", "machine_hourly_rate", "energy_price_per_kwh"]
    search_fields = ["user__username"]


@admin.register(PrinterPlanning)
class PrinterPlanningAdmin(admin.ModelAdmin):
    list_display = [
        "printer",
        "user",
        "working_hours",
        "auto_dispatch",
        "plate_swapper",
        "plate_clear",
    ]
    list_filter = ["auto_dispatch", "plate_swapper", "plate_clear"]
    list_select_related = ["printer", "user"]
    actions = ["plate_cleared"]

    @admin.action(description="The build plate is clear")
    def plate_cleared(self, request: HttpRequest, queryset: QuerySet) -> None:
        for planning in queryset.select_related("printer"):
            printer_plate_cleared(printer=planning.printer)
        self.message_user(request, f"{queryset.count()} plate(s) marked clear.", messages.SUCCESS)


@admin.register(FarmPlan)
class FarmPlanAdmin(admin.ModelAdmin):
    list_display = ["user", "computed_at", "planned_jobs", "unplaced_jobs", "notes"]
    list_select_related = ["user"]
    readonly_fields = ["computed_at", "planned_jobs", "unplaced_jobs", "notes"]
