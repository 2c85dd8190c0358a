""""What changed" in words: at most three sentences about the changes that are beyond noise.

Computed with the view (app/views.py) from the snapshot's counts, comparing the window with
the one before it: the score overall, the score in each segment value, the score among the
responses mentioning each topic, and how often detractors mention each topic. A candidate is
kept only when it passes the significance test of ``app.metrics`` (|delta| > 1.96 SE) and has
a minimum count on both sides; the kept ones are ranked by their effect on the overall score,
in NPS points. The wording is fixed (same data, same sentence), and every name in a sentence
is cleaned and masked by ``app.privacy`` before it can reach a screen.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from app.metrics import Z_95, ScoreSummary, TopicRow, compare_scores, summarize
from app.privacy import clean_for_display
from app.segments import OTHER
from app.windows import ALL, RANGE, window_days

MAX_SENTENCES = 3
NAME_CHARS = 40  # the longest segment value, topic name or event label a sentence carries


@dataclass(frozen=True)
class Minimums:
    """The counts a change needs before it is told (settings ``NPS_TV_CHANGE_MIN_*``)."""

    responses: int = 30  # responses in each window before a score change is told
    mentions: int = 10  # detractor mentions (in the busier window) before a complaint change


DEFAULT_MINIMUMS = Minimums()


class NearEvent(Protocol):
    """What a sentence needs of an event to name it ("since “Price change”")."""

    @property
    def label(self) -> str: ...

    @property
    def occurred_at(self) -> datetime: ...
KIND_ORDER = ("overall", "segment", "topic", "complaints")  # breaks ties in effect


@dataclass(frozen=True)
class Finding:
    """One sentence of "what changed", with what the panel and the API need around it.

    ``direction`` is what the number did (up or down); ``tone`` whether that is good or bad
    news for the score, so more complaints are "up" but "bad". ``effect`` is the change's
    pull on the overall score in NPS points; ``noise`` is 1.96 SE in the sentence's unit.
    """

    kind: str
    subject: str
    text: str
    direction: str
    tone: str
    effect: float

    def as_dict(self) -> dict:
        """The JSON shape used by the API."""
        return {"kind": self.kind, "subject": self.subject, "text": self.text,
                "direction": self.direction, "tone": self.tone,
                "effect": round(self.effect, 4)}


def describe_period(window: str, event: NearEvent | None = None) -> str:
    """How a sentence names the comparison: "over 30 days", "since the day before", or,
    when an event falls in the window, "since “Price change”" (the label cleaned and masked).
    """
    if event is not None:
        label = clean_for_display(event.label, NAME_CHARS)
        if any(char.isalnum() for char in label):
            return f"since \u201c{label}\u201d"
    days = window_days(window) if window not in (ALL, RANGE) else None
    if days is None:
        return "against the period before"
    return "since the day before" if days == 1 else f"over {days} days"


def nearest_event(events: Sequence[NearEvent]) -> NearEvent | None:
    """The event a sentence names: the one event in the window, or None. With several, the
    comparison of two whole windows cannot tell which of them the change followed, so none
    is named rather than a guess."""
    return events[0] if len(events) == 1 else None


def find_changes(current: ScoreSummary, previous: ScoreSummary | None,
                 topics: Sequence[TopicRow], segments: SegmentCounts | None,
                 window: str, minimums: Minimums = DEFAULT_MINIMUMS,
                 events: Sequence[NearEvent] = ()) -> tuple[Finding, ...]:
    """The (at most three) significant changes between two windows, largest effect first.

    ``events`` are the events within the window; when there is exactly one, it is named in
    the sentences ("since “Price change”") in place of the window's length."""
    least = minimums.responses
    if previous is None or current.n < least or previous.n < least:
        return ()
    period = describe_period(window, nearest_event(events))
    found: list[Finding] = []
    overall = _score_finding("overall", "", current, previous, 1.0, "NPS", period, least)
    if overall is not None:
        found.append(overall)
    if segments is not None:
        found += _segment_findings(segments, current, previous, period, least)
    for row in topics:
        # The test and its sentence by the topic's own counts (most rows of a touched view
        # kept theirs: a response mentions a topic or two), weighed by its share here.
        finding = _topic_sentence(row.topic, row.current, row.previous, period, least)
        if finding is not None:
            found.append(Finding(finding.kind, finding.subject, finding.text,
                                 finding.direction, finding.tone,
                                 row.current.n / current.n * finding.effect))
        finding = _complaint_finding(row, current.n, previous.n, minimums.mentions, period)
        if finding is not None:
            found.append(finding)
    found.sort(key=lambda f: (-abs(f.effect), KIND_ORDER.index(f.kind), f.subject))
    return tuple(found[:MAX_SENTENCES])


def _score_finding(kind: str, subject: str, current: ScoreSummary, previous: ScoreSummary,
                   share: float, what: str, period: str, least: int) -> Finding | None:
    """"NPS in EMEA up 12 over 30 days (± 7.3)" when the change is real and both sides count.

    The shown change (of the displayed scores) must pass the noise too, so a sentence never
    reads "up 12 (± 12.3)"; the noise has one decimal, as on the score panel.

    ``what`` names the score, with ``{}`` where the (cleaned) subject goes."""
    if current.n < least or previous.n < least:
        return None
    change = compare_scores(current, previous)
    shown = (current.nps_display or 0) - (previous.nps_display or 0)
    if change is None or not change.significant or abs(shown) <= change.noise:
        return None
    direction = "up" if shown > 0 else "down"
    name = clean_for_display(subject, NAME_CHARS)
    text = (f"{what.format(name)} {direction} {abs(shown)} {period} "
            f"(± {change.noise:.1f})")
    return Finding(kind, name, text, direction, "good" if shown > 0 else "bad",
                   share * change.delta)


def _complaint_finding(row: TopicRow, n_current: int, n_previous: int, least: int,
                       period: str) -> Finding | None:
    """"Pricing complaints doubled over 30 days (22 → 45 detractor mentions)" when the share
    of responses that are detractors mentioning the topic moved beyond noise (a
    two-proportion test) and the busier window has at least ``least`` such mentions."""
    before, now = row.previous.detractors, row.current.detractors
    if max(before, now) < least:
        return None
    r1, r2 = before / n_previous, now / n_current
    se = math.sqrt(r1 * (1 - r1) / n_previous + r2 * (1 - r2) / n_current)
    if se == 0.0 or abs(r2 - r1) <= Z_95 * se:
        return None
    direction = "up" if r2 > r1 else "down"
    name = clean_for_display(row.topic, NAME_CHARS)
    text = (f"{name} complaints {_describe_ratio(before, now)} {period} "
            f"({before} → {now} detractor mentions)")
    # Each detractor is -100/n points of the score: the pull of the moved share of them.
    return Finding("complaints", name, text, direction, "bad" if r2 > r1 else "good",
                   -100.0 * (r2 - r1))


def _describe_ratio(before: int, now: int) -> str:
    """"doubled", "tripled", "fell by half", "rose by 40%", "fell by 35%" (fixed wording)."""
    if before == 0:
        return "appeared"
    ratio = now / before
    if 1.9 <= ratio < 2.15:
        return "doubled"
    if 2.85 <= ratio < 3.2:
        return "tripled"
    if ratio >= 3.5:
        return f"rose {round(ratio)}-fold"
    if 0.45 <= ratio <= 0.55:
        return "fell by half"
    percent = round(abs(ratio - 1) * 100)
    return f"rose by {percent}%" if ratio > 1 else f"fell by {percent}%"


@dataclass(frozen=True)
class SegmentCounts:
    """Per segment combination (of the view's filter), the window's and the previous
    window's (promoters, passives, detractors), and which fields the filter pins."""

    combos: Sequence[Mapping[str, str]]
    current: np.ndarray  # (combos, 3)
    previous: np.ndarray  # (combos, 3)
    pinned: frozenset[str] = frozenset()  # fields filtered to one value: the whole view
    # Every (field, value) of the snapshot in sorted order and which of ``combos`` hold each,
    # (values, combos) bool (``snapshot_sums.segment_values``): read instead of ``combos``.
    values: tuple[tuple[tuple[str, str], ...], np.ndarray] | None = None


def _value_counts(segments: SegmentCounts, both: np.ndarray) -> list[tuple[str, list[int]]]:
    """Each segment value the combinations hold (not a pinned field's, not empty, not
    ``OTHER``), in (field, value) order, with its (current, previous) counts summed: six
    numbers. ``both``: (combos, 6)."""
    if segments.values is not None:
        keys, held = segments.values
        sums = held.astype(np.int64) @ both  # (values, 6): exact integer sums
        present = held.any(axis=1).tolist()
        return [(value, sums[i].tolist()) for i, (field, value) in enumerate(keys)
                if field not in segments.pinned and value and value != OTHER and present[i]]
    rows: dict[tuple[str, str], list[int]] = {}  # the combinations holding each value
    for i, combo in enumerate(segments.combos):
        for field, value in combo.items():
            if field in segments.pinned or not value or value == OTHER:
                continue
            rows.setdefault((field, value), []).append(i)
    return [(value, both[held].sum(axis=0, dtype=np.int64).tolist())
            for (_field, value), held in sorted(rows.items())]


def _segment_findings(segments: SegmentCounts, overall: ScoreSummary,
                      overall_before: ScoreSummary, period: str, least: int) -> list[Finding]:
    """A score finding for each segment value that is not the whole view."""
    both = np.concatenate([np.asarray(counts, dtype=np.int64).reshape(-1, 3)
                           for counts in (segments.current, segments.previous)], axis=1)
    found = []
    for value, entry in _value_counts(segments, both):
        n_now, n_before = sum(entry[:3]), sum(entry[3:])
        if n_now == overall.n and n_before == overall_before.n:
            continue  # one value holds everything: that is the overall sentence
        sentence = _segment_sentence(value, tuple(entry), period, least)
        if sentence is not None:  # its pull on the view's score: its share of the responses
            found.append(Finding(sentence.kind, sentence.subject, sentence.text,
                                 sentence.direction, sentence.tone,
                                 n_now / overall.n * sentence.effect))
    return found


@functools.lru_cache(maxsize=8192)  # ~3 MB when full
def _topic_sentence(topic: str, current: ScoreSummary, previous: ScoreSummary, period: str,
                    least: int) -> Finding | None:
    """A topic's score finding, its effect the change itself (``_segment_sentence``)."""
    return _score_finding("topic", topic, current, previous, 1.0, "NPS among {} mentions",
                          period, least)


@functools.lru_cache(maxsize=8192)  # ~3 MB when full
def _segment_sentence(value: str, entry: tuple[int, ...], period: str,
                      least: int) -> Finding | None:
    """A segment value's finding from its six counts (now, before), its effect the change
    itself (the caller weighs it by the value's share of the view): the same for every
    change that left the value's counts alone, which is most values of a touched view (a
    response is in one value of each field), so those are not summarised and tested again."""
    return _score_finding("segment", value, summarize(entry[:3], 1), summarize(entry[3:], 1),
                          1.0, "NPS in {}", period, least)
