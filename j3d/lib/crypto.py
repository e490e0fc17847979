"""Encryption at rest for secrets stored in the database (printer access codes, cloud tokens).

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`. The key is FIELD_ENCRYPTION_KEY (a
urlsafe-base64 32-byte Fernet key, or several separated by commas: the first encrypts, all
decrypt, which is how a key is rotated). Without it, a key is derived from SECRET_KEY.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "fernet:"


@cache
def _fernet() -> MultiFernet:
    configured = [k.strip() for k in settings.FIELD_ENCRYPTION_KEY.split(",") if k.strip()]
    if not configured:
        digest = hashlib.sha256(b"j3d-field-encryption:" + settings.SECRET_KEY.encode()).digest()
        configured = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode()) for key in configured])


def encrypt(plain: str) -> str:
    return PREFIX + _fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    """Return the plain text; raise ValueError (never showing the secret) when it cannot be read."""
    if not stored.startswith(PREFIX):
        raise ValueError("stored secret is not in the encrypted format")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError("stored secret cannot be decrypted with the configured key") from None


class EncryptedTextField(models.TextField):
    """A text column whose value is encrypted in the database and plain in Python."""

    def from_db_value(self, value: str | None, expression, connection) -> str | None:
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value: str | None) -> str | None:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
