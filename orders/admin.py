from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from orders.models import OrderItem, ProductProfile
from orders.services import product_profile_save


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    autocomplete_fields = ["product_profile"]


# Registered in j3d/admin.py, with the actions of the apps above orders.
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "order_number",
        "user",
        "source",
        "buyer_name",
        "status",
        "due_by",
        "created_at",
    ]
    list_filter = ["status", "source", "user"]
    search_fields = ["order_number", "buyer_name", "external_id"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline]


@admin.register(ProductProfile)
class ProductProfileAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "user",
        "sku",
        "etsy_listing_id",
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
