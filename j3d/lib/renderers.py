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
    if type(value) is str and value.startswith(FORMULA_START):
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
        header = list(dict.fromkeys(key for row in rows for key in row))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        # csv.writer on lists, not DictWriter: an export of thousands of rows (a printer per day)
        # spent most of its time building the dicts DictWriter wants.
        writer.writerows([_cell(row.get(key)) for key in header] for row in rows)
        return buffer.getvalue()
