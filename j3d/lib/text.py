"""Text from sources J3D does not control (printers' reports and replies, Etsy's receipts), made
storable."""

import re

# PostgreSQL's text and jsonb refuse NUL, and a lone UTF-16 surrogate is no Unicode text (no
# UTF-8 encoder takes it); JSON may escape both ("\u0000", "\ud800"), so a report or a receipt
# can carry them.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: str) -> str:
    """``value`` with each NUL and lone surrogate replaced by U+FFFD, as invalid UTF-8 is."""
    return UNSTORABLE.sub("\ufffd", value)
