"""API shapes of orders, their items and product profiles."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from j3d.lib.serializers import ModelSerializer
from orders.models import Order, OrderItem, ProductProfile, validate_variations


class ProfileFilamentSerializer(serializers.Serializer):
    """One filament of a plate (documents the shape; the model's validator checks it)."""

    slot = serializers.IntegerField(min_value=1, required=False)
    type = serializers.CharField(max_length=32)
    color = serializers.CharField(allow_blank=True, help_text="#RRGGBB, or empty")
    grams = serializers.FloatField(min_value=0)


@extend_schema_field(ProfileFilamentSerializer(many=True))
class FilamentsField(serializers.JSONField):
    """The profile's filament list; its rules live on the model (validate_filaments)."""


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
        ]
        read_only_fields = ["id"]


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
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "source", "external_id", "created_at", "updated_at"]
