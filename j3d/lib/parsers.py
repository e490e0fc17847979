"""Request parsers of the REST API (apart from j3d.lib.api, which imports DRF views: a cycle)."""

import json
from typing import Any

from rest_framework import exceptions, parsers

from j3d.lib.limits import MAX_JSON_DEPTH


class StrictJSONParser(parsers.JSONParser):
    """JSON whose strings are real Unicode text, nested at most MAX_JSON_DEPTH levels.

    `"\\ud800"` is valid JSON syntax but a lone surrogate is no character: it cannot be encoded to
    store it or to echo it in an error message, so it is refused here as a 400. Deep nesting is
    refused too: the decoder (and every later walk of the data: validation, json.dumps into a
    JSONField) recurses once per level, and Python's recursion limit is a RecursionError, a 500.
    """

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise _too_deep()
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise exceptions.ParseError(
                "JSON parse error - text contains a lone surrogate (\\ud800-\\udfff escape)."
            ) from None
        return data


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        f"JSON parse error - arrays and objects nest deeper than {MAX_JSON_DEPTH} levels."
    )


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists/dicts in `data` nest more than `limit` levels (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value)
    return False
