from typing import Any

from django import forms
from django.contrib import admin

from printers.models import (
    BambuMaterial,
    Printer,
    PrinterCommand,
    PrinterLease,
    PrinterStatus,
    SpareSpool,
)
from printers.services.materials import spare_spool_save


class PrinterAdminForm(forms.ModelForm):
    """Secrets are typed in but never shown back; leaving the box empty keeps the stored value."""

    access_code = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), strip=True
    )
    cloud_token = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = Printer
        fields = [
            "user",
            "name",
            "model",
            "serial",
            "connection_type",
            "host",
            "mqtt_port",
            "ftps_port",
            "access_code",
            "cloud_user_id",
            "cloud_token",
            "tls_verify",
            "ca_cert",
            "enabled",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        for secret in ("access_code", "cloud_token"):
            if not cleaned.get(secret) and self.instance.pk:
                cleaned[secret] = getattr(self.instance, secret)
        return cleaned


class BambuMaterialInline(admin.TabularInline):
    model = BambuMaterial
    extra = 0
    fields = [
        "slot",
        "material_type",
        "color",
        "color_hex",
        "weight_grams",
        "remaining_pct",
        "vendor",
        "cost_per_kg",
        "is_empty",
        "notes",
        "last_synced",
    ]
    readonly_fields = ["last_synced"]


class PrinterStatusInline(admin.StackedInline):
    model = PrinterStatus
    can_delete = False
    extra = 0
    readonly_fields = [
        "state",
        "online",
        "last_report_at",
        "connected_since",
        "link_error",
        "link_error_kind",
        "failing_since",
        "retry_at",
        "snapshot",
    ]
    fields = readonly_fields


# Registered in j3d/admin.py, with the inlines of the apps above printers.
class PrinterAdmin(admin.ModelAdmin):
    form = PrinterAdminForm
    list_display = [
        "name",
        "model",
        "serial",
        "user",
        "connection_type",
        "host",
        "enabled",
        "state",
    ]
    list_filter = ["model", "connection_type", "enabled", "user"]
    search_fields = ["name", "serial", "host"]
    list_select_related = ["status", "user"]
    inlines = [PrinterStatusInline, BambuMaterialInline]

    @admin.display(description="state")
    def state(self, printer: Printer) -> str:
        status = getattr(printer, "status", None)
        if status is None:
            return "unknown"
        if status.link_error_kind and not status.online:
            return f"{status.state} ({status.get_link_error_kind_display()})"
        return status.state


@admin.register(BambuMaterial)
class BambuMaterialAdmin(admin.ModelAdmin):
    list_display = ["printer", "slot", "material_type", "color", "remaining_pct", "is_empty"]
    list_filter = ["material_type", "is_empty", "printer"]
    list_select_related = ["printer"]


@admin.register(PrinterCommand)
class PrinterCommandAdmin(admin.ModelAdmin):
    """The outbox, read-only: commands are queued through the API and sent by the link."""

    list_display = ["created_at", "printer", "action", "status", "reason", "acked_at"]
    list_filter = ["status", "action", "printer"]
    list_select_related = ["printer"]
    readonly_fields = [f.name for f in PrinterCommand._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(PrinterLease)
class PrinterLeaseAdmin(admin.ModelAdmin):
    """Which printer-link process holds each printer, and until when."""

    list_display = ["printer", "holder", "expires_at"]
    list_select_related = ["printer"]
    readonly_fields = ["printer", "holder", "expires_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SpareSpool)
class SpareSpoolAdmin(admin.ModelAdmin):
    list_display = ["material_type", "color", "color_hex", "quantity", "grams_per_spool", "user"]
    list_filter = ["material_type", "user"]
    search_fields = ["material_type", "color", "vendor"]

    def save_model(self, request: Any, obj: SpareSpool, form: Any, change: bool) -> None:
        spare_spool_save(spool=obj)
