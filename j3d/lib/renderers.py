"""Response renderers beyond DRF's: CSV for the exports (`?format=csv`)."""

import csv
import io
from typing import Any

from rest_framework.renderers import BaseRenderer

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP):
# job names and failure reasons come from printers and people, so such cells get a quote first.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class CSVRenderer(BaseRenderer):
    """Renders a list of flat dicts (or one dict) as CSV with a header row of its keys.

    An error body (a dict with ``detail`` or field errors) is rendered the same way, so a 400
    still says why.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        rows = data if isinstance(data, list) else [data] if data is not None else []
        if not rows:
            return ""
        header: list[str] = []
        for row in rows:
            header += [key for key in row if key not in header]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(value) for key, value in row.items()})
        return buffer.getvalue()
