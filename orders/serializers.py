"""API shapes of orders, their items and product profiles."""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from j3d.lib import limits
from j3d.lib.serializers import ModelSerializer, QuerySerializer
from orders.models import (
    FILAMENT_COLOUR,
    FILAMENT_TYPE_MAX_LENGTH,
    EtsyConnection,
    Order,
    OrderItem,
    ProductProfile,
    validate_variations,
)


class ProfileFilamentSerializer(serializers.Serializer):
    """One filament of a plate: documents the shape and bounds, from the constants the model's
    validator (orders.models.validate_filaments) checks with."""

    slot = serializers.IntegerField(
        min_value=1,
        max_value=limits.MAX_FILAMENT_SLOT,
        required=False,
        help_text="The slicer's filament number; its place in the list when left out",
    )
    type = serializers.RegexField(
        r"\S",  # not blank: at least one character that is not a space
        max_length=FILAMENT_TYPE_MAX_LENGTH,
        help_text="The material, like PLA",
    )
    color = serializers.RegexField(
        rf"^{FILAMENT_COLOUR.pattern}$",
        required=False,
        allow_blank=True,
        help_text="Upper-case #RRGGBB, or empty (the default) when the slicer named none",
    )
    grams = serializers.FloatField(min_value=0, max_value=float(limits.MAX_UNIT_GRAMS))


class FilamentsField(serializers.JSONField):
    """The profile's filament list; its rules live on the model (validate_filaments)."""


class FilamentsFieldSchema(OpenApiSerializerFieldExtension):
    """FilamentsField in the schema: a list of ProfileFilament of at most MAX_FILAMENTS
    (extend_schema_field cannot give a list of a serializer its maxItems)."""

    target_class = FilamentsField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        component = auto_schema.resolve_serializer(ProfileFilamentSerializer, direction)
        component.schema["additionalProperties"] = False  # validate_filaments refuses others
        return {"type": "array", "items": component.ref, "maxItems": limits.MAX_FILAMENTS}


class ProductProfileSerializer(ModelSerializer):
    filaments = FilamentsField(required=False)
    set_by_person = serializers.ListField(
        child=serializers.ChoiceField(ProductProfile.FILLED_FROM_FILE),
        required=False,
        help_text="Fields a person set: an uploaded print file leaves them alone",
    )

    class Meta:
        model = ProductProfile
        fields = [
            "id",
            "name",
            "sku",
            "etsy_listing_id",
            "file_name",
            "print_file",
            "material_type",
            "nozzle_temp",
            "bed_temp",
            "print_speed",
            "estimated_duration_minutes",
            "grams_per_unit",
            "units_per_plate",
            "grams_per_plate",
            "filaments",
            "plate_count",
            "set_by_person",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The name once per owner is ProductProfile's constraint, reported under "name" by the
        # service's full_clean().
        validators: list = []


class ProductProfileJSONSerializer(ProductProfileSerializer):
    """A product profile sent as JSON, which cannot carry the sliced file (send it as multipart)."""

    print_file = serializers.FileField(read_only=True)


@extend_schema_field({"oneOf": [{"type": "array", "items": {}}, {"type": "object"}]})
class VariationsField(serializers.JSONField):
    """The buyer's choices: a list (Etsy's variations) or an object."""


class ProductProfileRefField(serializers.PrimaryKeyRelatedField):
    """A product profile id, limited to the caller's own profiles."""

    def get_queryset(self) -> Any:
        return ProductProfile.objects.filter(user=self.context["request"].user)


class OrderItemSerializer(ModelSerializer):
    variations = VariationsField(required=False, validators=[validate_variations])
    product_profile_id = ProductProfileRefField(
        source="product_profile", allow_null=True, required=False
    )

    class Meta:
        model = OrderItem
        fields = [
            "id",
            "title",
            "sku",
            "listing_id",
            "quantity",
            "unit_price",
            "variations",
            "personalization",
            "product_profile_id",
            "external_id",
            "product_id",
            "variation_label",
            "unit_price_minor",
            "price_divisor",
        ]
        read_only_fields = [
            "id",
            "external_id",
            "product_id",
            "variation_label",
            "unit_price_minor",
            "price_divisor",
        ]


class OrderSerializer(ModelSerializer):
    items = OrderItemSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "source",
            "external_id",
            "order_number",
            "buyer_name",
            "buyer_email",
            "status",
            "is_paid",
            "is_shipped",
            "total_amount",
            "currency",
            "due_by",
            "notes",
            "items",
            "buyer_message",
            "etsy_status",
            "jobs_total",
            "jobs_done",
            "production_note",
            "cancelled_at",
            "cancel_reason",
            "shipped_at",
            "carrier_name",
            "tracking_code",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "source",
            "external_id",
            "buyer_message",
            "etsy_status",
            "jobs_total",
            "jobs_done",
            "production_note",
            "cancelled_at",
            "cancel_reason",
            "shipped_at",
            "carrier_name",
            "tracking_code",
            "created_at",
            "updated_at",
        ]


class OrderUpdateSerializer(ModelSerializer):
    """What a person may change on an order after it came in (PATCH)."""

    class Meta:
        model = Order
        fields = ["due_by", "notes"]


class EtsyConnectSerializer(serializers.Serializer):
    mark_shipped = serializers.BooleanField(
        default=False, help_text="Also ask for transactions_w, to mark orders shipped on Etsy"
    )


class EtsyAuthorizeSerializer(serializers.Serializer):
    authorize_url = serializers.CharField(help_text="Send the shop owner's browser here")


class EtsyConnectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = EtsyConnection
        fields = [
            "shop_id",
            "shop_name",
            "etsy_user_id",
            "scopes",
            "connected_at",
            "last_sync_at",
            "last_error",
            "reconnect_needed",
            "schedule_paid_orders",
            "mark_shipped",
        ]
        read_only_fields = [f for f in fields if f != "schedule_paid_orders"]


class EtsySyncRequestSerializer(serializers.Serializer):
    full = serializers.BooleanField(
        default=False, help_text="Read every receipt, not just those changed since the last sync"
    )


class SkippedReceiptSerializer(serializers.Serializer):
    receipt_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()


class EtsySyncResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="orders new in J3D")
    updated = serializers.IntegerField(help_text="orders Etsy changed (cancelled ones included)")
    cancelled = serializers.IntegerField(help_text="orders this sync cancelled")
    items = serializers.IntegerField(help_text="order items written")
    unmatched_items = serializers.IntegerField(help_text="of those, items with no product profile")
    skipped = SkippedReceiptSerializer(many=True, help_text="receipts left out, and why")
    complete = serializers.BooleanField(help_text="false: Etsy failed part-way (see error)")
    error = serializers.CharField(allow_blank=True)
    requests = serializers.IntegerField(help_text="calls made to Etsy")


class UnmatchedItemSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField(read_only=True)
    order_number = serializers.CharField(source="order.order_number", read_only=True)

    class Meta:
        model = OrderItem
        fields = [
            "id",
            "order_id",
            "order_number",
            "title",
            "sku",
            "listing_id",
            "product_id",
            "variation_label",
            "quantity",
            "personalization",
        ]
        read_only_fields = fields


class ProfileFromItemSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=200, required=False, help_text="default: the item's title"
    )
    match_variation = serializers.BooleanField(
        default=False, help_text="match only this variation of the listing"
    )


class OrderFilterSerializer(QuerySerializer):
    """Query parameters of the order list."""

    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    source = serializers.ChoiceField(choices=Order.Source.choices, required=False)
    due_before = serializers.DateTimeField(
        required=False, help_text="orders whose ship-by date is before this time"
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="part of the order number or the buyer's name",
    )


class ShipSerializer(serializers.Serializer):
    carrier_name = serializers.CharField(
        max_length=50, required=False, allow_blank=True, help_text="e.g. usps, royal-mail, other"
    )
    tracking_code = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words.")
