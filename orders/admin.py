from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse

from j3d.lib.errors import DomainError
from orders.models import EtsyAuthorization, EtsyConnection, OrderItem, ProductProfile
from orders.services import (
    order_announce_changed,
    product_profile_create_from_item,
    product_profile_save,
)
from orders.services.etsy import etsy_connect_start, etsy_sync_orders


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    autocomplete_fields = ["product_profile"]
    exclude = ["variations"]


# Registered in j3d/admin.py, with the actions of the apps above orders.
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "order_number",
        "user",
        "source",
        "buyer_name",
        "status",
        "jobs_done",
        "jobs_total",
        "due_by",
        "created_at",
    ]
    list_filter = ["status", "source", "user"]
    search_fields = ["order_number", "buyer_name", "external_id"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline]
    readonly_fields = [
        "etsy_status",
        "external_updated",
        "external_digest",
        "jobs_total",
        "jobs_done",
        "production_note",
        "cancelled_at",
        "cancel_reason",
    ]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:  # a new ship-by date re-plans the farm
            order_announce_changed(order=obj, fields=form.changed_data)


class UnmatchedFilter(admin.SimpleListFilter):
    title = "product profile"
    parameter_name = "matched"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "No profile yet"), ("yes", "Has a profile")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "no":
            return queryset.filter(product_profile__isnull=True)
        if self.value() == "yes":
            return queryset.filter(product_profile__isnull=False)
        return queryset


@admin.register(OrderItem)
class OrderItemAdmin(admin.ModelAdmin):
    """Ordered items; the unmatched ones (filter "No profile yet") become profiles in one step."""

    list_display = ["title", "order", "sku", "listing_id", "variation_label", "product_profile"]
    list_filter = [UnmatchedFilter, "order__source"]
    search_fields = ["title", "sku", "listing_id", "order__order_number"]
    list_select_related = ["order", "product_profile"]
    autocomplete_fields = ["product_profile"]
    raw_id_fields = ["order"]
    actions = ["create_profiles"]

    @admin.action(description="Create a product profile from each selected item")
    def create_profiles(self, request: HttpRequest, queryset: QuerySet) -> None:
        made = 0
        for item in queryset.filter(product_profile__isnull=True).select_related("order"):
            item.refresh_from_db(fields=["product_profile"])  # an earlier one may have linked it
            if item.product_profile_id is None:
                product_profile_create_from_item(user=item.order.user, item_id=item.pk)
                made += 1
        self.message_user(request, f"{made} product profile(s) created and linked.")


@admin.register(ProductProfile)
class ProductProfileAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "sku",
        "etsy_listing_id",
        "etsy_variation",
        "material_type",
        "estimated_duration_minutes",
        "grams_per_plate",
        "plate_count",
    ]
    list_filter = ["material_type", "user"]
    search_fields = ["name", "sku", "etsy_listing_id"]
    readonly_fields = ["set_by_person"]

    def save_model(
        self, request: HttpRequest, obj: ProductProfile, form: Any, change: bool
    ) -> None:
        # The form already put its values on obj (and checked the print file); the service
        # remembers what the person changed and fills the rest from a new print file.
        product_profile_save(profile=obj, typed=form.changed_data)


@admin.register(EtsyConnection)
class EtsyConnectionAdmin(admin.ModelAdmin):
    """Connected Etsy shops (tokens never shown); "Connect Etsy shop" starts the OAuth flow for the
    staff member who clicks it."""

    change_list_template = "admin/orders/etsyconnection/change_list.html"
    list_display = [
        "shop_name",
        "shop_id",
        "user",
        "connected_at",
        "last_sync_at",
        "reconnect_needed",
        "last_error",
    ]
    list_filter = ["reconnect_needed"]
    fields = [
        "user",
        "shop_name",
        "shop_id",
        "etsy_user_id",
        "scopes",
        "connected_at",
        "last_sync_at",
        "last_error",
        "reconnect_needed",
        "sync_high_water",
        "schedule_paid_orders",
        "mark_shipped",
    ]
    readonly_fields = [f for f in fields if f not in ("schedule_paid_orders",)]
    actions = ["sync_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # shops are connected through Etsy, not typed in

    def get_urls(self) -> list:
        connect = path(
            "connect/",
            self.admin_site.admin_view(self.connect_view),
            name="orders_etsyconnection_connect",
        )
        return [connect, *super().get_urls()]

    def connect_view(self, request: HttpRequest) -> HttpResponseRedirect:
        try:
            url = etsy_connect_start(user=request.user)
        except DomainError as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:orders_etsyconnection_changelist"))
        return HttpResponseRedirect(url)

    @admin.action(description="Sync orders from Etsy now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for connection in queryset.select_related("user"):
            try:
                result = etsy_sync_orders(user=connection.user)
            except DomainError as refused:
                self.message_user(request, f"{connection}: {refused}", messages.WARNING)
                continue
            level = messages.SUCCESS if result.complete else messages.WARNING
            summary = ", ".join(
                f"{name} {getattr(result, name)}"
                for name in ("created", "updated", "cancelled", "items", "unmatched_items")
            )
            self.message_user(request, f"{connection}: {summary} {result.error}", level)


@admin.register(EtsyAuthorization)
class EtsyAuthorizationAdmin(admin.ModelAdmin):
    """Pending "Connect Etsy shop" requests (the PKCE verifier is never shown)."""

    list_display = ["user", "created_at", "expires_at", "used_at"]
    fields = ["user", "scopes", "created_at", "expires_at", "used_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
