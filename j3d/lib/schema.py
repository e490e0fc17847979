"""OpenAPI schemas derived from plain dataclasses, so JSON stored from them stays documented."""

import dataclasses
import inspect
import types
import typing
from typing import Any

_SCALARS = {int: "integer", float: "number", str: "string", bool: "boolean"}


def dataclass_schema(cls: type) -> dict[str, Any]:
    """The JSON schema of `cls.to_dict()` output, read from the dataclass's type hints."""
    hints = typing.get_type_hints(cls)
    properties = {field.name: _type_schema(hints[field.name]) for field in dataclasses.fields(cls)}
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
