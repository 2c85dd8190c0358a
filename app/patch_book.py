"""The patch book (issue 13): the JSON of the parts screens were last sent and the patches
between them, kept so the many screens that show the same thing share one diff
(``app.part_patch`` makes the diffs).

What a screen has is known from its state store: the fingerprint of each part it last
received (``app.live``). A part it does not know (another worker built it, or it left the
book) is sent whole, as is a part whose patch would not be smaller.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from dash import Patch

from app.part_cache import BYTES_PER_CHAR, Part
from app.part_patch import diff, ops_size, remembering, size_of, to_patch
from app.wire import Wire, json_length


class PatchBook:
    """The JSON of recently sent parts and the patches between them, bounded: at most
    ``keep`` versions of ``keys_max`` (data key, part) places (four parts for each of the
    512 screens the poll job builds ahead for, ``part_cache.ActiveScreens``), and at most
    ``max_bytes`` of their own (shared ``Wire`` pieces, which the part cache holds, not
    counted; see ``part_cache.BYTES_PER_CHAR``), the least recently used places out first.
    With 512 places, 160 distinct screens' parts (640) pushed each other out and about half
    the screens were sent whole parts after every change (20 KB a screen instead of 3)."""

    def __init__(self, keys_max: int = 2048, keep: int = 3, patches_max: int = 2048,
                 max_bytes: int = 32 * 2**20):
        self.keys_max, self.keep, self.patches_max = keys_max, keep, patches_max
        self.max_bytes = max_bytes
        self.bytes = 0
        self._sizes: dict[tuple[str, str, str], int] = {}  # (data key, name, fp) -> bytes
        self._trees: OrderedDict[tuple[str, str], OrderedDict[str, Any]] = OrderedDict()
        self._patches: OrderedDict[tuple[str, str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._diffing = threading.Lock()
        self.sent_whole = 0
        self.sent_patches = 0

    def remember(self, data_key: str, name: str, part: Part) -> Any:
        """Keep ``part``'s JSON value (what the screens of ``data_key`` are about to have)."""
        key = (data_key, name)
        with self._lock:
            trees = self._trees.get(key)
            if trees is not None and part.fingerprint in trees:
                self._trees.move_to_end(key)
                return trees[part.fingerprint]
        # The part as built is its JSON already (``part_cache.to_wire``: plain values and
        # ``Wire`` pieces); kept as it is, a piece two versions share (a comment's card, a
        # topic's row) is one object in both, which the diff passes by identity instead of
        # writing each out as JSON to compare (it was most of a feed's diff).
        tree = part.payload
        if part.own is None:
            pieces: list[Wire] = []
            own = json_length(tree, pieces) - sum(w.chars for w in pieces)
        else:
            own = part.own  # measured when it was built (``PartCache``)
        size = BYTES_PER_CHAR * own
        with self._lock:
            trees = self._trees.setdefault(key, OrderedDict())
            self._trees.move_to_end(key)
            if part.fingerprint not in trees:
                self.bytes += size
                self._sizes[(*key, part.fingerprint)] = size
            trees[part.fingerprint] = tree
            while len(trees) > self.keep:
                self.bytes -= self._sizes.pop((*key, trees.popitem(last=False)[0]))
            while len(self._trees) > self.keys_max or (
                    self.bytes > self.max_bytes and len(self._trees) > 1):
                gone, versions = self._trees.popitem(last=False)
                for fingerprint in versions:
                    self.bytes -= self._sizes.pop((*gone, fingerprint))
        return tree

    def answer(self, data_key: str, name: str, had: str | None, part: Part) -> Any:
        """What to send a screen that has the part fingerprinted ``had``: a ``Patch`` to
        ``part``, or ``part.payload`` itself when the old part is unknown or the patch is
        not smaller."""
        new = self.remember(data_key, name, part)
        with self._lock:
            old = self._trees.get((data_key, name), {}).get(had) if had else None
            cached = self._patches.get((data_key, name, had or "", part.fingerprint))
        if old is None:
            self.sent_whole += 1
            return part.payload
        if cached is None:
            cached = self._diff(data_key, name, had, part, (old, new))
        if isinstance(cached, Patch):
            self.sent_patches += 1
        else:
            self.sent_whole += 1
        return cached


    def _diff(self, data_key: str, name: str, had: str, part: Part, trees: tuple) -> Any:
        """The patch from ``had`` to ``part``, computed once: every screen polls within the
        same second after a change, and each thread diffing alike only held the others up
        (the diff is pure Python, under the GIL). One diff at a time; the others wait for it
        and take it from the cache."""
        key = (data_key, name, had, part.fingerprint)
        with self._diffing:
            with self._lock:
                found = self._patches.get(key)
            if found is not None:
                return found
            old, new = trees
            with remembering():
                ops = diff(old, new)
                whole = part.chars if part.chars is not None else size_of(new)
                smaller = ops_size(ops) < whole
            found = to_patch(ops) if smaller else part.payload
            with self._lock:
                self._patches[key] = found
                while len(self._patches) > self.patches_max:
                    self._patches.popitem(last=False)
        return found
