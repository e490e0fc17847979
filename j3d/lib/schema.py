"""OpenAPI schemas derived from plain dataclasses, so JSON stored from them stays documented."""

import dataclasses
import inspect
import types
import typing
from typing import Any

_SCALARS = {int: "integer", float: "number", str: "string", bool: "boolean"}


def dataclass_schema(cls: type) -> dict[str, Any]:
    """The JSON schema of `cls.to_dict()` output, read from the type hints of a dataclass or a
    named tuple (printers.bambu.snapshot.Snapshot)."""
    hints = typing.get_type_hints(cls)
    names = getattr(cls, "_fields", None) or [field.name for field in dataclasses.fields(cls)]
    properties = {name: _type_schema(hints[name]) for name in names}
    return {
        "type": "object",
        "description": inspect.cleandoc(cls.__doc__ or ""),
        "properties": properties,
    }


def _type_schema(hint: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in args if arg is not type(None)]
        schema = _type_schema(options[0]) if len(options) == 1 else {}
        return {**schema, "nullable": True}
    if origin in (tuple, list):
        return {"type": "array", "items": _type_schema(args[0]) if args else {}}
    if dataclasses.is_dataclass(hint):
        return dataclass_schema(hint)
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    return {}


_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "What went wrong, in words."}},
    "required": ["detail"],
}
_VALIDATION_ERROR = {
    "type": "object",
    "description": (
        "Each field that was refused, with its reasons (`{field: [reason]}`; a nested field nests"
        " the same way, a list of items gives one entry per item); `non_field_errors` for a reason"
        " that is not about one field; `detail` alone when the body is not valid JSON."
    ),
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {}},
            {"type": "object", "additionalProperties": {}},
        ]
    },
}
# status code -> (component name, description, body schema)
ERROR_RESPONSES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "400": ("ValidationError", "The request was refused: which field, and why.", _VALIDATION_ERROR),
    "401": ("Unauthorized", "No valid credentials (a JWT or a session); or wrong ones.", _ERROR),
    "404": ("NotFound", "No such object among the caller's own.", _ERROR),
    "406": (
        "NotAcceptable",
        "The Accept header names no type this operation answers in (JSON; CSV where listed).",
        _ERROR,
    ),
    "409": ("Conflict", "The object's current state forbids this change.", _ERROR),
    "429": ("Throttled", "Too many attempts; the message says when to try again.", _ERROR),
}


def error_response_components() -> list[tuple[str, dict[str, Any]]]:
    """(name, OpenAPI response object) of each shared error response."""
    return [
        (name, {"description": text, "content": {"application/json": {"schema": body}}})
        for name, text, body in ERROR_RESPONSES.values()
    ]
