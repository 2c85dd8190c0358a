"""What every screen's view of one snapshot reads alike, derived once per snapshot instead of
once per screen (issue 13, item 3: 100 distinct screens each used to compute these again).

Each is kept for the last snapshot asked about only, through a weak reference (a snapshot is
never changed once published: its arrays are read-only copies), and replaced whole, so a
thread sees one pair or the other.
"""

from __future__ import annotations

import weakref
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from app.rollup import Snapshot

_EVERY: tuple[weakref.ref, np.ndarray] | None = None
_COMMENT_COMBOS: tuple[weakref.ref, np.ndarray] | None = None
_COMMENT_TIMES: tuple[weakref.ref, np.ndarray] | None = None
_VALUES: tuple[weakref.ref, SegmentValues] | None = None
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def every_per_day(snapshot: Snapshot) -> np.ndarray:
    """The snapshot's (days, 3) counts summed over every combination: the base of each
    filtered screen's rest (do not modify)."""
    global _EVERY
    found = _EVERY
    if found is not None and found[0]() is snapshot:
        return found[1]
    every = snapshot.counts.sum(axis=0, dtype=np.int64)
    _EVERY = (weakref.ref(snapshot), every)
    return every


def comment_combos(snapshot: Snapshot) -> np.ndarray:
    """Each of the snapshot's comments' segment combination, an index into
    ``snapshot.combos`` (-1 when its segments are none of them), so a screen keeps its
    comments by its combination mask instead of matching each comment's segments."""
    global _COMMENT_COMBOS
    found = _COMMENT_COMBOS
    if found is not None and found[0]() is snapshot:
        return found[1]
    index = {tuple(sorted(combo.items())): i for i, combo in enumerate(snapshot.combos)}
    combos = np.array([index.get(tuple(sorted(c.segments.items())), -1)
                       for c in snapshot.comments], dtype=np.int64)
    _COMMENT_COMBOS = (weakref.ref(snapshot), combos)
    return combos


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float rounding)."""
    return (moment - _EPOCH) // _MICROSECOND


def comment_times(snapshot: Snapshot) -> np.ndarray:
    """Each of the snapshot's comments' ``created_at`` in epoch microseconds (``micros``), so
    a screen finds its window's comments in one comparison instead of one per comment."""
    global _COMMENT_TIMES
    found = _COMMENT_TIMES
    if found is not None and found[0]() is snapshot:
        return found[1]
    times = np.array([micros(c.created_at) for c in snapshot.comments], dtype=np.int64)
    _COMMENT_TIMES = (weakref.ref(snapshot), times)
    return times


class SegmentValues(NamedTuple):
    """Every (field, value) the snapshot's combinations hold, in sorted order, and which
    combinations hold each: a bool matrix (values, combos); ``row`` finds a value's row."""

    keys: tuple[tuple[str, str], ...]
    matrix: np.ndarray
    row: dict[tuple[str, str], int]


def segment_values(snapshot: Snapshot) -> SegmentValues:
    """The snapshot's ``SegmentValues``: a screen's filter mask (``views.combo_mask``) and its
    "what changed" per segment value (``changes``) read them instead of going through every
    combination's fields again (do not modify)."""
    global _VALUES
    found = _VALUES
    if found is not None and found[0]() is snapshot:
        return found[1]
    keys = tuple(sorted({(field, value) for combo in snapshot.combos
                         for field, value in combo.items()}, key=_in_order))
    row = {key: i for i, key in enumerate(keys)}
    matrix = np.zeros((len(keys), len(snapshot.combos)), dtype=bool)
    for i, combo in enumerate(snapshot.combos):
        for item in combo.items():
            matrix[row[item], i] = True
    matrix.setflags(write=False)
    values = SegmentValues(keys, matrix, row)
    _VALUES = (weakref.ref(snapshot), values)
    return values


def _in_order(key: tuple[str, object]) -> tuple:
    """(field, value) order; a value that is not text (never stored so) after the texts."""
    field, value = key
    return (field, 0, value) if type(value) is str else (field, 1, repr(value))
