"""API shapes of the project's own doors (the JWT token login)."""

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer


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
