"""The incremental in-memory rollup and the immutable snapshots it publishes.

The rollup keeps counts by (segment combination, local day, category), by
(segment combination, local day, topic, category) and the tone of the topic mentions by
(segment combination, local day, topic, positive/negative/neutral) in numpy arrays; a
mention in none of them was stored before tones were read (tone unknown, app/tone.py).
A poll folds in only the rows that changed: a row seen before is first taken out with the
values it was counted with, then put back with its new ones, so late updates never
double-count (a comment edited from praise to complaint moves its mention across tones).

Rows created outside the plausible time range (stored before the input rules, or under
another NPS_TV_EARLIEST_DATE) are not counted, so the day axis never stretches to year 1 or
9999 for one outlier. A row ahead of the range is counted once the range reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from app.ingest.rules import TimeRange
from app.privacy import mask_personal_data
from app.rollup_arrays import add_at, categories, local_days, to_micros
from app.segments import SegmentGroups
from app.store.database import ChangedRows, EventRow
from app.tone import NEGATIVE, NEUTRAL, POSITIVE, decode_key

NOT_COUNTED = -1
UNSEEN = -1
MAX_TOPICS = 63  # topics are a bit mask in an int64


@dataclass(frozen=True)
class Comment:
    """A verbatim comment as the wall shows it (personal data already masked)."""

    id: int
    created_at: datetime
    score: int
    text: str
    segments: Mapping[str, str]
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    """An immutable, versioned picture of the store that every viewer reads."""

    version: int
    as_of: datetime
    day0: int  # epoch day (in the display time zone) of index 0 of the day axis
    counts: np.ndarray  # (combos, days, 3) int32
    topic_counts: np.ndarray  # (combos, days, topics, 3) int32
    combos: tuple[Mapping[str, str], ...]
    topic_names: tuple[str, ...]
    comments: tuple[Comment, ...]  # newest first
    events: tuple[EventRow, ...]
    stored: int  # responses folded in, excluded ones included
    latest: Comment | None = None
    # (database clock in microseconds when the poll that published it began, newest id):
    # comparable across workers and instances, unlike ``version`` (``Poller.current``).
    mark: tuple[int, int] = (0, 0)
    # (combos, days, topics, 3) int32: mentions with a positive, negative and neutral tone
    tone_counts: np.ndarray | None = None
    # (newest updated_at in microseconds, newest id) of the rows folded in: the same in every
    # worker and instance holding the same data, unlike ``mark`` (the ask's stamp reads it)
    data_mark: tuple[int, int] = (0, 0)
    # The combinations whose counts differ from the same poller's snapshot ``version - 1``
    # (``app.view_cache.touched_combos``); None when unknown or not comparable.
    touched: np.ndarray | None = None
    # What moved since then in those combinations (``app.view_cache.CountDelta``), which a
    # touched view adds to its sums; None when unknown, not comparable or too wide.
    delta: object | None = None

    @property
    def days(self) -> int:
        return self.counts.shape[1]


class Rollup:
    """Mutable counts owned by the poller; ``snapshot()`` freezes a copy for viewers."""

    def __init__(self, tz: str = "UTC", topic_names: Sequence[str] = (), comments_keep: int = 60,
                 segment_fields: Sequence[str] | None = None,
                 segment_values_max: int | None = None, time_range: TimeRange | None = None):
        self.tz = tz
        self.comments_keep = comments_keep
        self.topic_names: list[str] = list(topic_names)
        self._topic_index = {name: i for i, name in enumerate(self.topic_names)}
        # topic-set key -> (topic bit mask, index into _tone_table)
        self._topic_masks: dict[str, tuple[int, int]] = {"": (0, 0)}
        # Distinct (positive, negative, neutral) bit masks; a row keeps an int32 index into
        # them, not three int64 masks (4 bytes a row instead of 24).
        self._tone_index: dict[tuple[int, int, int], int] = {(0, 0, 0): 0}
        self._tone_table = np.zeros((1, 3), dtype=np.int64)
        self.segments = SegmentGroups(segment_fields, segment_values_max)
        self.combos = self.segments.combos
        self.time_range = time_range or TimeRange()
        self._earliest_s = int(self.time_range.earliest.timestamp())
        self.day0 = 0
        self.counts = np.zeros((0, 0, 3), dtype=np.int32)
        self.topic_counts = np.zeros((0, 0, max(len(self.topic_names), 1), 3), dtype=np.int32)
        self.tone_counts = np.zeros((0, 0, max(len(self.topic_names), 1), 3), dtype=np.int32)
        self._day = np.zeros(0, dtype=np.int64)
        self._combo = np.zeros(0, dtype=np.int32)
        self._cat = np.zeros(0, dtype=np.int8)
        self._tmask = np.zeros(0, dtype=np.int64)
        self._tone = np.zeros(0, dtype=np.int32)  # index into _tone_table
        self._updated = np.zeros(0, dtype=np.int64)
        self._inside = np.zeros(0, dtype=bool)  # created within the plausible range
        self._ahead: dict[int, int] = {}  # id -> created (epoch s) of rows ahead of the range
        self.outside = 0  # stored rows not counted: created outside the plausible range
        self.comments: dict[int, Comment] = {}
        self.latest: Comment | None = None
        self._latest_key: tuple[int, int] = (-1, -1)  # (updated micros, id) of ``latest``
        self.stored = 0
        self.max_id = 0
        self.max_updated_micros = 0
        self.bulk_mark = 0  # newest updated_at (micros) when the bulk read started

    # -- folding --------------------------------------------------------------------------

    def fold(self, rows: ChangedRows, now: datetime | None = None) -> int:
        """Fold changed rows into the counts; returns how many rows changed anything."""
        if not len(rows):
            return 0
        ids = rows.ids
        self._grow_ids(int(ids.max()) + 1)
        if rows.updated is not None:
            updated = to_micros(rows.updated)
            fresh = self._updated[ids] != updated
        else:  # a bulk read: no updated_at, so any later read of the row refolds it once
            updated = np.zeros(len(ids), dtype=np.int64)
            fresh = np.ones(len(ids), dtype=bool)
        if not fresh.any():
            return 0
        sel = np.flatnonzero(fresh)
        ids, updated, created = ids[sel], updated[sel], rows.created[sel]
        latest_s = self._latest_s(now)
        inside = (created >= self._earliest_s) & (created <= latest_s)
        days = np.zeros(len(sel), dtype=np.int64)
        days[inside] = local_days(created[inside] * 1_000_000, self.tz)
        cats = np.where(rows.excluded[sel], NOT_COUNTED, categories(rows.scores[sel]))
        combos = self._lookup(rows.segment_sets[sel], rows.segment_keys, self._combo_of)
        masks, tones = self._lookup(rows.topic_sets[sel], rows.topic_keys, self._mask_of).T
        seen = self._updated[ids] != UNSEEN
        was_inside, prev_updated = self._inside[ids], self._updated[ids]
        # Re-read rows (the overlap, a repeat delivery) that count exactly as before are no change.
        moved = ~seen | (was_inside != inside) | (self._day[ids] != days) \
            | (self._combo[ids] != combos) | (self._cat[ids] != cats) \
            | (self._tmask[ids] != masks) | (self._tone[ids] != tones)
        self.stored += int((~seen).sum())
        self.outside += int((~inside).sum()) - int((seen & ~was_inside).sum())
        self._apply(ids[seen & moved], sign=-1)  # take out what these rows counted before
        if inside.any():
            self._ensure_shape(len(self.combos), int(days[inside].min()),
                               int(days[inside].max()))
        else:
            self._ensure_shape(len(self.combos))
        self._day[ids], self._combo[ids], self._cat[ids] = days, combos, cats
        self._tmask[ids], self._updated[ids], self._inside[ids] = masks, updated, inside
        self._tone[ids] = tones
        self._apply(ids[moved], sign=+1)
        self._note_ahead(ids, created, created > latest_s)

        self.max_id = max(self.max_id, int(ids.max()))
        if rows.updated is not None:
            self.max_updated_micros = max(self.max_updated_micros, int(updated.max()))
        changed = int(moved.sum())
        if rows.comments is not None:
            # News for the gong: a new row or a new version of one. A bulk-loaded row's first
            # re-read (its updated_at unknown until now) is news only if written after the load.
            news = ~seen | (prev_updated != 0) | (updated > self.bulk_mark)
            changed += self._fold_comments(rows, sel, updated, inside, news)
        return changed

    def admit_due(self, now: datetime | None = None) -> int:
        """Count the rows that were ahead of the plausible range and no longer are."""
        if not self._ahead:
            return 0
        latest_s = self._latest_s(now)
        due = np.array([i for i, c in self._ahead.items() if c <= latest_s], dtype=np.int64)
        if not len(due):
            return 0
        created = np.array([self._ahead.pop(int(i)) for i in due], dtype=np.int64)
        days = local_days(created * 1_000_000, self.tz)
        self._ensure_shape(len(self.combos), int(days.min()), int(days.max()))
        self._day[due], self._inside[due] = days, True
        self.outside -= len(due)
        self._apply(due, sign=+1)
        return len(due)

    def _latest_s(self, now: datetime | None) -> int:
        return int(self.time_range.latest(now).timestamp())

    def _note_ahead(self, ids: np.ndarray, created: np.ndarray, ahead: np.ndarray) -> None:
        """Remember rows ahead of the range (to count them when it reaches them)."""
        if self._ahead:
            back = ids[~ahead]
            for i in back[np.isin(back, np.fromiter(self._ahead, dtype=np.int64))]:
                self._ahead.pop(int(i))
        for i, c in zip(ids[ahead], created[ahead], strict=True):
            self._ahead[int(i)] = int(c)

    @staticmethod
    def _lookup(set_ids: np.ndarray, keys: Mapping[int, str], resolve) -> np.ndarray:
        """Map lookup-table ids to rollup indices (or rows of them), resolving each distinct
        id once."""
        unique, inverse = np.unique(set_ids, return_inverse=True)
        mapped = np.array([resolve(keys[int(u)]) for u in unique], dtype=np.int64)
        return mapped[inverse.reshape(-1)]

    def _apply(self, ids: np.ndarray, sign: int) -> None:
        if not len(ids):
            return
        cats = self._cat[ids]
        counted = (cats != NOT_COUNTED) & self._inside[ids]
        ids, cats = ids[counted], cats[counted].astype(np.int64)
        combos, days = self._combo[ids].astype(np.int64), self._day[ids] - self.day0
        add_at(self.counts, (combos * self.counts.shape[1] + days) * 3 + cats, sign)
        masks = self._tmask[ids]
        tones = self._tone_table[self._tone[ids]].T  # positive, negative, neutral masks
        n_days, n_topics = self.topic_counts.shape[1], self.topic_counts.shape[2]
        by_category, by_tone = [], []  # flat indices of every topic, added in one go each
        for t in range(len(self.topic_names)):
            hit = (masks >> t) & 1 == 1
            if hit.any():
                cell = (combos[hit] * n_days + days[hit]) * n_topics + t
                by_category.append(cell * 3 + cats[hit])
                by_tone.extend(cell[(tone[hit] >> t) & 1 == 1] * 3 + k
                               for k, tone in enumerate(tones))
        if by_category:
            add_at(self.topic_counts, np.concatenate(by_category), sign)
            add_at(self.tone_counts, np.concatenate(by_tone), sign)

    def _combo_of(self, segments: str) -> int:
        return self.segments.index_of(segments)

    def _mask_of(self, key: str) -> tuple[int, int]:
        """The topics of a topic-set key as bits, and the row of their tones in _tone_table."""
        masks = self._topic_masks.get(key)
        if masks is None:
            mask = positive = negative = neutral = 0
            for name, tone in zip(*decode_key(key), strict=True):
                if name not in self._topic_index:
                    if len(self.topic_names) >= MAX_TOPICS:
                        continue
                    self._topic_index[name] = len(self.topic_names)
                    self.topic_names.append(name)
                bit = 1 << self._topic_index[name]
                mask |= bit
                positive |= bit if tone == POSITIVE else 0
                negative |= bit if tone == NEGATIVE else 0
                neutral |= bit if tone == NEUTRAL else 0
            masks = self._topic_masks[key] = (mask, self._tone_of(positive, negative, neutral))
        return masks

    def _tone_of(self, *masks: int) -> int:
        """The index of these (positive, negative, neutral) masks in the tone table."""
        index = self._tone_index.get(masks)
        if index is None:
            index = self._tone_index[masks] = len(self._tone_table)
            self._tone_table = np.vstack([self._tone_table, np.array([masks], dtype=np.int64)])
        return index

    def _grow_ids(self, size: int) -> None:
        if size <= len(self._updated):
            return
        size = max(size, 2 * len(self._updated), 1024)

        def grow(arr: np.ndarray, fill: int) -> np.ndarray:
            out = np.full(size, fill, dtype=arr.dtype)
            out[: len(arr)] = arr
            return out

        self._day, self._combo = grow(self._day, 0), grow(self._combo, 0)
        self._cat, self._tmask = grow(self._cat, NOT_COUNTED), grow(self._tmask, 0)
        self._tone = grow(self._tone, 0)
        self._updated = grow(self._updated, UNSEEN)
        self._inside = grow(self._inside, False)

    def _ensure_shape(self, combos: int, day_min: int | None = None,
                      day_max: int | None = None) -> None:
        """Room for ``combos`` combinations, every topic and (when given) these days.

        Callers pass only days within the plausible range, so the axis stays bounded.
        """
        c, d, t = self.counts.shape[0], self.counts.shape[1], len(self.topic_names)
        if day_min is None or day_max is None:
            grow_days = False
        else:
            if d == 0:
                self.day0 = day_min
            lo, hi = min(self.day0, day_min), max(self.day0 + d - 1, day_max)
            grow_days = d == 0 or lo < self.day0 or hi >= self.day0 + d
        if not grow_days and combos <= c and t <= self.topic_counts.shape[2]:
            return
        # Grow with headroom so a live feed does not reallocate every day or new combination.
        new_c = max(combos, c + c // 2, 8) if combos > c else c
        new_lo, new_hi = self.day0, self.day0 + d - 1
        if grow_days:
            new_lo = lo - 7 if lo < self.day0 or d == 0 else self.day0
            new_hi = hi + 31 if d == 0 or hi >= self.day0 + d else self.day0 + d - 1
        new_t = max(t, self.topic_counts.shape[2], 1)
        counts = np.zeros((new_c, new_hi - new_lo + 1, 3), dtype=np.int32)
        topic_counts = np.zeros((new_c, new_hi - new_lo + 1, new_t, 3), dtype=np.int32)
        tone_counts = np.zeros((new_c, new_hi - new_lo + 1, new_t, 3), dtype=np.int32)
        if d:
            off = self.day0 - new_lo
            counts[:c, off:off + d] = self.counts
            old_t = self.topic_counts.shape[2]
            topic_counts[:c, off:off + d, :old_t] = self.topic_counts
            tone_counts[:c, off:off + d, :old_t] = self.tone_counts
        self.counts, self.topic_counts, self.day0 = counts, topic_counts, new_lo
        self.tone_counts = tone_counts

    # -- comments -------------------------------------------------------------------------

    def seed_comments(self, rows: ChangedRows, now: datetime | None = None) -> None:
        """Load the newest comments (the first full read leaves comments out)."""
        latest_s = self._latest_s(now)
        inside = (rows.created >= self._earliest_s) & (rows.created <= latest_s)
        self._fold_comments(rows, np.arange(len(rows)), to_micros(rows.updated or []), inside,
                            np.ones(len(rows), dtype=bool))

    def _fold_comments(self, rows: ChangedRows, sel: np.ndarray, updated: np.ndarray,
                       inside: np.ndarray, news: np.ndarray) -> int:
        """Update the newest-comments list and the gong's newest response.

        ``updated``, ``inside`` and ``news`` (new or changed counts) are aligned with ``sel``.
        The newest response is the one received or changed last, not the one with the latest
        created_at: a response dated ahead must not hold the gong for good. A re-read that
        changes nothing (the overlap, the first re-read after the bulk load) is not news.
        """
        newest: Comment | None = None
        newest_key = (-1, -1)
        changes = 0
        for k, i in enumerate(sel):
            rid, text = int(rows.ids[i]), (rows.comments[i] or "").strip()
            if rows.excluded[i] or not inside[k]:
                changes += self.comments.pop(rid, None) is not None
                continue
            topics = decode_key(rows.topic_keys[int(rows.topic_sets[i])])[0]
            comment = Comment(
                id=rid,
                created_at=datetime.fromtimestamp(int(rows.created[i]), tz=UTC),
                score=int(rows.scores[i]),
                text=mask_personal_data(text),
                segments=self.combos[self._combo_of(rows.segment_keys[int(rows.segment_sets[i])])],
                topics=topics,
            )
            if text:
                moved = self.comments.get(rid) != comment
                self.comments[rid] = comment
            else:
                moved = self.comments.pop(rid, None) is not None
            changes += moved
            key = (int(updated[k]), rid)
            if news[k] and key > newest_key:
                newest, newest_key = comment, key
        if newest is not None and newest_key >= self._latest_key:
            self.latest, self._latest_key = newest, newest_key
        if len(self.comments) > self.comments_keep:
            keep = sorted(self.comments.values(), key=lambda c: (c.created_at, c.id),
                          reverse=True)[: self.comments_keep]
            self.comments = {c.id: c for c in keep}
        return changes

    # -- publishing -----------------------------------------------------------------------

    def snapshot(self, version: int, as_of: datetime, events: Sequence[EventRow]) -> Snapshot:
        """Freeze a copy of the current counts for viewers."""
        c = len(self.combos)
        counts = self.counts[:c].copy()
        topic_counts = self.topic_counts[:c, :, : len(self.topic_names)].copy()
        tone_counts = self.tone_counts[:c, :, : len(self.topic_names)].copy()
        for frozen in (counts, topic_counts, tone_counts):
            frozen.flags.writeable = False
        comments = tuple(sorted(self.comments.values(), key=lambda m: (m.created_at, m.id),
                                reverse=True))
        return Snapshot(
            version=version, as_of=as_of, day0=self.day0, counts=counts,
            topic_counts=topic_counts, combos=tuple(dict(x) for x in self.combos),
            topic_names=tuple(self.topic_names), comments=comments, events=tuple(events),
            stored=self.stored, latest=self.latest,
            mark=(self.max_updated_micros, self.max_id), tone_counts=tone_counts,
            data_mark=(self.max_updated_micros, self.max_id))
