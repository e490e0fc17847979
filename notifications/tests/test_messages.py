"""What a message says: built once from the event, read by every transport."""

import pytest

from j3d import events
from j3d.tests.factories import make_printer
from notifications.services.messages import message_for_event


@pytest.mark.django_db
def test_material_messages_say_low_or_empty(owner) -> None:
    printer = make_printer(owner, name="P1S #3")
    common = {"user_id": owner.pk, "printer_id": printer.pk, "slot": 2, "material_type": "PETG"}

    low = message_for_event(event=events.MaterialLow(**common, remaining_pct=8))
    empty = message_for_event(event=events.MaterialLow(**common, remaining_pct=0))

    assert low.title == "P1S #3: slot 2 running low (8% left)"
    assert empty.title == "P1S #3: slot 2 is empty"
    assert "PETG ran out" in empty.body
    assert empty.severity == low.severity == "warning"
    assert empty.data["printer"]["name"] == "P1S #3"
