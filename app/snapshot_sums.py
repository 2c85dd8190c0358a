"""What every screen's view of one snapshot reads alike, derived once per snapshot instead of
once per screen (issue 13, item 3: 100 distinct screens each used to compute these again).

Each is kept for the last snapshot asked about only, through a weak reference (a snapshot is
never changed once published: its arrays are read-only copies), and replaced whole, so a
thread sees one pair or the other.
"""

from __future__ import annotations

import weakref
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.rollup import Snapshot

_EVERY: tuple[weakref.ref, np.ndarray] | None = None
_COMMENT_COMBOS: tuple[weakref.ref, np.ndarray] | None = None
_COMMENT_TIMES: tuple[weakref.ref, np.ndarray] | None = None
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
