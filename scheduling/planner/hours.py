"""Working hours as lookup tables over the minutes of a day.

A job (and the swap before it) may only start inside a printer's working hours; it may run past
their end. For a printer free at minute-of-day ``t``, ``wait[t]`` is how long until it may start a
job. Tables depend only on the windows and the swap length, so they are built once and shared.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

DAY = 1440


def allowed_minutes(windows: tuple[tuple[int, int], ...] | None) -> np.ndarray:
    """A bool per minute of the day: may a job start then? Windows are ``(start, end)`` with
    0 <= start < 1440 and 0 <= end <= 1440; ``end <= start`` wraps past midnight."""
    if windows is None:
        return np.ones(DAY, dtype=bool)
    allowed = np.zeros(DAY, dtype=bool)
    for start, end in windows:
        if start < end:
            allowed[start:end] = True
        else:  # a night shift (or the whole day when start == end)
            allowed[start:] = True
            allowed[:end] = True
    return allowed


def _waits(ok: np.ndarray) -> np.ndarray | None:
    """Minutes from each minute of the day to the next one where ``ok`` holds; None if never."""
    if not ok.any():
        return None
    twice = np.concatenate([ok, ok])
    # The index of the next True at or after each position, scanning two days backwards.
    nxt = np.empty(2 * DAY, dtype=np.int64)
    upcoming = 4 * DAY
    for i in range(2 * DAY - 1, -1, -1):
        if twice[i]:
            upcoming = i
        nxt[i] = upcoming
    return nxt[:DAY] - np.arange(DAY, dtype=np.int64)


@lru_cache(maxsize=256)
def wait_tables(
    windows: tuple[tuple[int, int], ...] | None, swap_minutes: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(wait before a job, wait before a swap + job); None where no start is ever possible.

    A swap is done by a person, so its own start must be inside the working hours too, and the
    job right after it as well.
    """
    allowed = allowed_minutes(windows)
    shifted = np.roll(allowed, -(swap_minutes % DAY))
    return _waits(allowed), _waits(allowed & shifted)


def is_allowed(windows: tuple[tuple[int, int], ...] | None, minute_of_day: int) -> bool:
    if windows is None:
        return True
    return bool(allowed_minutes_cached(windows)[minute_of_day % DAY])


@lru_cache(maxsize=256)
def allowed_minutes_cached(windows: tuple[tuple[int, int], ...]) -> np.ndarray:
    return allowed_minutes(windows)
