"""Base serializers of the REST API: a JSON body's values must have the JSON type the schema says.

DRF is lenient by default: a string field takes `0` and stores "0", an integer field takes "5",
a boolean takes "yes". The OpenAPI schema promises types, so a JSON body whose value has another
type is refused with a 400 naming the field. Form and multipart bodies (a file upload) and query
strings carry only text, so they keep DRF's parsing.
"""

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# (field classes, the Python types json.loads gives for them, how to say it); first match wins.
_JSON_TYPES: list[tuple[tuple[type, ...], tuple[type, ...], str]] = [
    ((serializers.BooleanField,), (bool,), "true or false"),
    ((serializers.IntegerField, serializers.PrimaryKeyRelatedField), (int,), "a whole number"),
    ((serializers.FloatField, serializers.DecimalField), (int, float), "a number"),
    (
        (
            serializers.CharField,
            serializers.DateTimeField,
            serializers.DateField,
            serializers.TimeField,
        ),
        (str,),
        "a string",
    ),
    ((serializers.ListField, serializers.ListSerializer), (list,), "a list"),
    ((serializers.Serializer, serializers.DictField), (dict,), "an object"),
]


def _expected(field: serializers.Field) -> tuple[tuple[type, ...], str] | None:
    if isinstance(field, serializers.ChoiceField):
        kinds = tuple({type(key) for key in field.choices})
        return kinds, "one of the listed values"
    for classes, kinds, words in _JSON_TYPES:
        if isinstance(field, classes):
            return kinds, words
    return None


def _type_errors(fields: Mapping[str, serializers.Field], data: Mapping) -> dict[str, list[str]]:
    errors = {}
    for name, field in fields.items():
        if field.read_only or name not in data or data[name] is None:
            continue
        expected = _expected(field)
        if expected is None:
            continue
        kinds, words = expected
        value = data[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            errors[name] = [f"Expected {words}, got {type(value).__name__}."]
    return errors


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _nul_errors(fields: Mapping[str, serializers.Field], values: Mapping) -> dict[str, list[str]]:
    """A free-form JSON value (a JSONField, sent as JSON or as a form's text) holding a NUL
    character anywhere: PostgreSQL's jsonb cannot store it (a 500 there), and no value needs it.
    DRF refuses NUL in a CharField only."""
    return {
        name: ["Must not contain a NUL character."]
        for name, field in fields.items()
        if isinstance(field, serializers.JSONField)
        and field.source in values
        and _holds_nul(values[field.source])
    }


def _length_errors(fields: Mapping[str, serializers.Field], data: Mapping) -> dict[str, list[str]]:
    """A text longer than its field's max_length as sent: DRF measures it after trimming the
    whitespace around it, so "\t" + 200 characters passed a 200-character limit the schema states
    for the value as sent (schemathesis's negative data, some runs)."""
    errors = {}
    for name, field in fields.items():
        limit = getattr(field, "max_length", None)
        value = data.get(name) if name in data else None
        if isinstance(field, serializers.CharField) and limit and isinstance(value, str):
            if len(value) > limit:
                errors[name] = [f"Ensure this field has no more than {limit} characters."]
    return errors


class JSONTypesMixin:
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors = _length_errors(self.fields, data)
            if errors:
                raise serializers.ValidationError(errors)
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors = _type_errors(self.fields, data)
            if errors:
                raise serializers.ValidationError(errors)
        values = super().to_internal_value(data)
        errors = _nul_errors(self.fields, values)
        if errors:
            raise serializers.ValidationError(errors)
        return values


class Serializer(JSONTypesMixin, serializers.Serializer):
    pass


class ModelSerializer(JSONTypesMixin, serializers.ModelSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        """DRF derives a model serializer's fields from the model for every serializer it makes
        (0.3-0.8 ms of a request's CPU, about twice a deep copy). What it derives depends only on
        the class (its Meta, declared fields and field mapping; none of ours reads the instance or
        the context there), so it is derived once per class and each serializer gets a deep copy,
        as DRF gives each one its declared fields."""
        cls = type(self)
        fields = cls.__dict__.get("_derived_fields")
        if fields is None:
            fields = super().get_fields()
            cls._derived_fields = fields
        return copy.deepcopy(fields)


def query_errors(query: Mapping, names: Iterable[str]) -> dict[str, list[str]]:
    """What is wrong with the query parameters ``names`` as given, by name: each one the schema
    documents is a single value, so a repeated one (``?page=1&page=2``, which Django would read as
    its last value) is refused rather than half read, and so is a NUL character, which no value
    needs and PostgreSQL cannot store or compare."""
    errors = {}
    for name in names:
        values = query.getlist(name) if isinstance(query, QueryDict) else [query.get(name)]
        if len(values) > 1:
            errors[name] = ["Give this parameter once."]
        elif any(isinstance(value, str) and "\x00" in value for value in values):
            errors[name] = ["Must not contain a NUL character."]
    return errors


class QuerySerializer(serializers.Serializer):
    """Query-string filters. Each parameter is given at most once, without NUL (query_errors).
    DRF skips an empty optional value (`?until=`) as if it were absent; a filter the client named
    but left empty is refused instead, so a typo is not a silent "no filter" (unless the field
    allows blank, as a search does)."""

    def to_internal_value(self, data: Any) -> Any:
        errors = query_errors(data, [name for name in self.fields if name in data])
        for name, field in self.fields.items():
            blank_ok = getattr(field, "allow_blank", False)
            if name not in errors and name in data and data.get(name) == "" and not blank_ok:
                errors[name] = ["Give a value, or leave the parameter out."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def narrow(self, rows: Any, lookups: Mapping[str, str]) -> Any:
        """``rows`` filtered by each parameter the client gave, through its lookup
        (``{"since": "created_at__gte"}``); call after ``is_valid()``."""
        wanted = self.validated_data
        given = {lookup: wanted[name] for name, lookup in lookups.items() if name in wanted}
        return rows.filter(**given)


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        "example": "22:00",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time of day ("22:00") in a time zone named elsewhere. OpenAPI's `format: time`
    is RFC 3339's full-time, which needs an offset ("22:00:00Z"): that would be a lie for a local
    time, so the schema gives the pattern instead, and an offset is refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)
