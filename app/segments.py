"""Segment combinations for the rollup, with a cap on distinct values per field.

Every distinct combination of segment values is a (days x topics) slab of the rollup, and
respondents can set segment values themselves (hidden fields in a survey URL), so each field
keeps at most ``max_values`` values; later ones are counted as "Other".
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Sequence

log = logging.getLogger(__name__)
OTHER = "Other"


def split_values(raw: str) -> list[str]:
    """A segment filter's values from its URL parameter (``product=Ledger,Pulse``: either):
    separated by commas, a comma inside a value written ``\\,`` and a backslash ``\\\\``
    (``industry=Media\\, Journalism`` is one value; real answers hold commas: "Korea, South");
    each value stripped, empty ones dropped. ``join_values`` writes them."""
    values, current, i = [], [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and raw[i + 1:i + 2] in (",", "\\"):  # else a backslash of its own,
            current.append(raw[i + 1])                      # as stored links and bookmarks
            i += 2                                          # wrote it before (region=A\B)
            continue
        if ch == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    values.append("".join(current))
    # In NFC, as stored values are (``ingest.rules.clean_segment_value``).
    return [unicodedata.normalize("NFC", v.strip()) for v in values if v.strip()]


def join_values(values: Sequence[str]) -> str:
    """The URL parameter of a segment filter's values, as ``split_values`` reads it."""
    return ",".join(v.replace("\\", "\\\\").replace(",", "\\,") for v in values)


class SegmentGroups:
    """Maps stored segment sets (canonical JSON) to combination indices."""

    def __init__(self, fields: Sequence[str] | None = None, max_values: int | None = None):
        # Only the configured fields form groups: a per-customer property would otherwise
        # make one group per response (and reach the wall as a chip).
        self.fields = None if fields is None else frozenset(fields)
        self.max_values = max_values
        self.combos: list[dict[str, str]] = []
        self._by_key: dict[str, int] = {}  # stored segments JSON -> combo
        self._by_reduced: dict[str, int] = {}  # JSON of the kept values -> combo
        self._values: dict[str, set[str]] = {}
        self.capped: list[str] = []  # fields that reached the cap, in the order they did

    def index_of(self, segments: str) -> int:
        """The combination index of a stored segment set, creating it when new."""
        index = self._by_key.get(segments)
        if index is not None:
            return index
        values = json.loads(segments) if segments else {}
        if self.fields is not None:
            values = {k: v for k, v in values.items() if k in self.fields}
        grouped = False
        for name, value in values.items():
            if not self._keep(name, value):
                values[name], grouped = OTHER, True
        reduced = json.dumps(values, sort_keys=True)
        index = self._by_reduced.get(reduced)
        if index is None:
            index = self._by_reduced[reduced] = len(self.combos)
            self.combos.append(values)
        if not grouped:  # grouped sets are not remembered, so their number costs nothing
            self._by_key[segments] = index
        return index

    def _keep(self, name: str, value: str) -> bool:
        kept = self._values.setdefault(name, set())
        if value in kept or value == OTHER:
            return True
        if self.max_values is None or len(kept) < self.max_values:
            kept.add(value)
            return True
        if name not in self.capped:
            self.capped.append(name)
            log.warning("segment field %r has more than %d distinct values; further values "
                        "are counted as %r (NPS_TV_SEGMENT_VALUES_MAX)", name, self.max_values,
                        OTHER)
        return False

    def warnings(self) -> list[str]:
        """One line per capped field, for /health."""
        return [f"segment field {name!r} has more than {self.max_values} distinct values; "
                f"further values are counted as {OTHER!r}" for name in self.capped]
