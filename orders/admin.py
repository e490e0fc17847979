from django.contrib import admin

from orders.models import Order, OrderItem, ProductProfile


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    autocomplete_fields = ["product_profile"]


@admin.register(Order)
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
    ]
    list_filter = ["material_type", "user"]
    search_fields = ["name", "sku", "etsy_listing_id"]
