"""The plain records that cross the store's boundary: what goes in, what comes back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ResponseRecord:
    """A validated response on its way into the store."""

    source: str
    external_id: str
    score: int
    created_at: datetime | None  # None: now for a new response; a stored one keeps its time
    comment: str | None = None
    segments: Mapping[str, str] = field(default_factory=dict)
    excluded: bool = False
    # The sender's own time of this version (a vendor's updated_at or event time, or a REST
    # client's), when it sends one: an older version never overwrites a newer stored one.
    source_updated_at: datetime | None = None


@dataclass(frozen=True)
class UpsertResult:
    """How many records were new, changed, or already stored unchanged."""

    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class EventRow:
    """A stored event."""

    id: int
    occurred_at: datetime
    label: str
    kind: str
    note: str | None


# Imports repeat a handful of segment combinations over thousands of rows: each one's JSON
# is remembered (bounded; cleared when full, as the topic-key memo is).
_SEGMENT_KEYS: dict[tuple, str] = {}
SEGMENT_MEMO_ENTRIES = 4096


def canonical_segments(segments: Mapping[str, Any]) -> str:
    """Segment properties as canonical JSON, so equal sets compare equal as strings."""
    items = tuple(segments.items())
    # Only all-text sets are remembered: 1 == 1.0 == True as keys, yet they write differently.
    memo = all(type(k) is str and type(v) is str for k, v in items)
    if memo and (known := _SEGMENT_KEYS.get(items)) is not None:
        return known
    key = json.dumps({str(k): str(v) for k, v in items}, sort_keys=True, ensure_ascii=False)
    if memo:
        if len(_SEGMENT_KEYS) >= SEGMENT_MEMO_ENTRIES:
            _SEGMENT_KEYS.clear()
        _SEGMENT_KEYS[items] = key
    return key
