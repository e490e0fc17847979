"""Request parsers of the REST API (apart from j3d.lib.api, which imports DRF views: a cycle)."""

import json
from typing import Any

from rest_framework import exceptions, parsers


class StrictJSONParser(parsers.JSONParser):
    """JSON whose strings are real Unicode text.

    `"\\ud800"` is valid JSON syntax but a lone surrogate is no character: it cannot be encoded to
    store it or to echo it in an error message, so it is refused here as a 400.
    """

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise exceptions.ParseError(
                "JSON parse error - text contains a lone surrogate (\\ud800-\\udfff escape)."
            ) from None
        return data
