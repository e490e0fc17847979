"""API shapes of the project's own doors: the JWT token login and the event history."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from j3d import events
from j3d.lib.api import MAX_ID
from j3d.lib.serializers import ModelSerializer, QuerySerializer
from j3d.models import Event


class TokenObtainSerializer(TokenObtainPairSerializer):
    """simplejwt's login body, with the username no longer than a username can be.

    django-axes records each failed login's username in a 255-character column: an unbounded one
    was a 500 on PostgreSQL ("value too long").
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        longest = get_user_model()._meta.get_field(self.username_field).max_length
        self.fields[self.username_field] = serializers.CharField(
            write_only=True, max_length=longest
        )


TYPES = sorted(events.EVENT_TYPES)


def _payload_description() -> str:
    lines = [
        "The event's own fields as published (see j3d/events.py), by type. Every payload also has"
        " user_id, printer_id, job_id, order_id, task_id and subtask_id."
    ]
    common = {f.name for f in dataclasses.fields(events.Event)}
    for name in TYPES:
        own = [f.name for f in dataclasses.fields(events.EVENT_TYPES[name]) if f.name not in common]
        lines.append(f"- `{name}`: {', '.join(own) or '(nothing more)'}")
    return "\n".join(lines)


@extend_schema_field(
    {"type": "object", "additionalProperties": {}, "description": _payload_description()}
)
class PayloadField(serializers.JSONField):
    pass


class EventSerializer(ModelSerializer):
    type = serializers.ChoiceField(choices=TYPES, read_only=True)
    printer_id = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The printer's id; null for an event about no printer.",
    )
    payload = PayloadField(read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "printer_id",
            "job_id",
            "order_id",
            "occurred_at",
            "status",
            "payload",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "status": {
                "help_text": "pending while subscribers still run (or wait for a retry), handled"
                " once they all succeeded, failed when given up on."
            },
        }


class EventQuerySerializer(QuerySerializer):
    """The filters of GET /api/events (query parameters)."""

    printer = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this printer's events."
    )
    type = serializers.ChoiceField(choices=TYPES, required=False, help_text="Only this type.")
    since = serializers.DateTimeField(
        required=False, help_text="Events at or after this time (ISO 8601; UTC if no offset)."
    )
    until = serializers.DateTimeField(
        required=False, help_text="Events before this time (ISO 8601; UTC if no offset)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError({"until": ["Must be later than since."]})
        return attrs
