"""manage.py plan_farm: a farm file in, the plan out as JSON; a bad file is one clear line."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line

FARM = {
    "now": "2026-03-02T08:00:00+00:00",
    "swap_minutes": 10,
    "printers": [
        {
            "id": 1,
            "model": "P1S",
            "online": True,
            "enabled": True,
            "available_at": None,
            "slots": [
                {"slot": 0, "material_type": "PLA", "color": "FFFFFF", "remaining_grams": 800}
            ],
            "working_hours": [["08:00", "20:00"]],
        }
    ],
    "jobs": [
        {
            "id": 10,
            "duration_minutes": 95,
            "grams": 35,
            "material_type": "PLA",
            "color": "FFFFFF",
            "priority": 5,
            "due_by": "2026-03-03T17:00:00+00:00",
            "printer_id": None,
            "compatible_models": ["P1S", "X1C"],
        },
        {
            "id": 11,
            "duration_minutes": 60,
            "grams": 35,
            "material_type": "PETG",
            "color": "000000",
            "priority": 1,
            "due_by": None,
            "printer_id": None,
            "compatible_models": None,
        },
        {
            "id": 12,
            "duration_minutes": 60,
            "grams": 10,
            "material_type": "PLA",
            "color": None,
            "priority": 0,
            "due_by": None,
            "printer_id": None,
            "compatible_models": ["H2D"],
        },
    ],
}


def plan_file(tmp_path: Path, data, *extra: str) -> dict:
    path = tmp_path / "farm.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    out = StringIO()
    call_command("plan_farm", "--instance", str(path), *extra, stdout=out)
    return json.loads(out.getvalue())


def test_the_issue_example_is_planned_with_swaps_and_reasons(tmp_path):
    result = plan_file(tmp_path, FARM)
    first, second = result["assignments"]
    assert first == {
        "job_id": 10,
        "printer_id": 1,
        "start": "2026-03-02T08:00:00+00:00",
        "end": "2026-03-02T09:35:00+00:00",
        "swap": None,
        "slot": 0,
    }
    assert second["job_id"] == 11
    assert second["swap"] == {"slot": 0, "material_type": "PETG", "color": "000000"}
    assert second["start"] == "2026-03-02T09:45:00+00:00"
    assert result["unplaced"] == [{"job_id": 12, "reason": "no H2D is in the farm"}]


def test_planning_a_file_touches_no_database(tmp_path):
    # No `db` fixture: pytest-django fails any query this command would make.
    assert plan_file(tmp_path, FARM, "--cpsat-budget", "0.2")["assignments"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.pop("now"), "now: is required"),
        (lambda f: f.update(now="2026-03-02T08:00:00"), "now: needs a time zone"),
        (lambda f: f.update(printers={}), "printers: must be a list"),
        (lambda f: f["jobs"][1].update(duration_minutes=0), "jobs[1].duration_minutes: must be"),
        (lambda f: f["jobs"][0].update(due_by="soon"), "jobs[0].due_by: must be an ISO 8601"),
        (lambda f: f["jobs"][0].update(color="white"), "jobs[0].color: must be a hex colour"),
        (lambda f: f["jobs"][2].update(id=10), "jobs[2].id: id 10 is used twice"),
        (lambda f: f["jobs"][0].update(grams="lots"), "jobs[0].grams: must be a number"),
        (
            lambda f: f["printers"][0].update(working_hours=[["8", "20:00"]]),
            'printers[0].working_hours[0][0]: must be a time "HH:MM"',
        ),
        (
            lambda f: f["printers"][0]["slots"][0].update(remaining_grams=-1),
            "printers[0].slots[0].remaining_grams: must be between 0",
        ),
        (lambda f: f["printers"][0].update(online="yes"), "printers[0].online: must be true or"),
        (
            lambda f: f["jobs"][0].update(started_at="2026-03-02T07:00:00+00:00"),
            "jobs[0].printer_id: a started job needs its printer",
        ),
        (lambda f: f.update(swap_minutes=-5), "swap_minutes: must be between 0 and 1440"),
    ],
)
def test_a_bad_field_is_named_with_the_reason(tmp_path, change, message):
    farm = json.loads(json.dumps(FARM))
    change(farm)
    with pytest.raises(CommandError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan_file(tmp_path, farm)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not valid JSON (line 1, column 2"), ("[]", "the file: must be an object")],
)
def test_a_file_that_is_not_a_farm_is_one_clear_line(tmp_path, text, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace("[", r"\[")):
        plan_file(tmp_path, text)


def test_a_missing_file_is_a_message_not_a_traceback(tmp_path, capsys):
    # What manage.py runs, in this process (a child process would spend ~0.7 s of CPU starting
    # Python and Django): an uncaught exception would fail the test with its traceback.
    with pytest.raises(SystemExit) as stopped:
        execute_from_command_line(
            ["manage.py", "plan_farm", "--instance", str(tmp_path / "none.json")]
        )
    assert stopped.value.code == 1
    stderr = capsys.readouterr().err
    assert "cannot read it" in stderr
    assert "Traceback" not in stderr
