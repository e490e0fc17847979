"""Response renderers beyond DRF's: CSV for the exports (`?format=csv`)."""

import csv
import io
from dataclasses import dataclass
from typing import Any

from rest_framework.renderers import BaseRenderer

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP):
# job names and failure reasons come from printers and people, so such cells get a quote first.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CSVTable:
    """Rows already laid out as lists under ``header``, each cell passed through ``cell()``:
    a long export builds them so (a printer's figures once, not once per day)."""

    header: list[str]
    rows: list[list[Any]]


def cell(value: Any) -> Any:
    """A value as a safe CSV cell: None is empty, a formula-like string gets a quote first."""
    return _cell(value)


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
        if isinstance(data, CSVTable):
            return _write(data.header, data.rows)
        rows = data if isinstance(data, list) else [data] if data is not None else []
        if not rows:
            return ""
        header = list(dict.fromkeys(key for row in rows for key in row))
        # csv.writer on lists, not DictWriter: building the dicts DictWriter wants was most of
        # the time of a long export.
        return _write(header, ([_cell(row.get(key)) for key in header] for row in rows))


def _write(header: list[str], rows: Any) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
