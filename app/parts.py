"""Building page parts (panels, figures, the gong's payload) from a view through the panel
registry, and ``prewarm``, which builds the parts of recently active screens in the poll job
ahead of their requests.

Parts are built once per (snapshot version, day, request, theme) and shared by every screen
that shows the same thing (``app.part_cache`` keeps them); a part whose fingerprint did not
change is reused as it is.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from app.panels.registry import find_part
from app.part_cache import Part
from app.privacy import load_profanity
from app.store.follow_ups import FollowUpFilter, FollowUps
from app.views import View, today_in
from app.wire import Plain
from app.workspace.comment_list import local_bounds

if TYPE_CHECKING:
    from app.panels import PartContext
    from app.rollup import Snapshot
    from app.screen import ScreenConfig
    from app.services import Services

log = logging.getLogger(__name__)


# A need that is a tuple this long (trend points, a feed's comments) is hashed item by item, so
# a stamp takes again the items that are the same objects as last time (``stamp``).
LONG = 8


def fingerprint(*values: object) -> str:
    """A short hash of ``values``' reprs, stable across processes (unlike ``hash``); a long
    tuple among them (``LONG``) counts by its items' hashes."""
    return _hash(values, None)[0]


def _hash(values: tuple, last: tuple | None) -> tuple[str, tuple]:
    """(``fingerprint(*values)``, what each value was written as: a long tuple's item hashes,
    any other value's text); ``last``: (the values, what they were written as) of an earlier
    call: a value that is the same object in the same place is not written out again (a
    screen the change left out keeps its score and window summaries, and only its line
    against the rest is new), nor are a long tuple's items that are."""
    text, items = [], []
    for i, value in enumerate(values):
        prior = last[1][i] if last is not None and i < len(last[0]) else None
        if type(value) is not tuple or len(value) < LONG:
            piece = prior if type(prior) is str and last[0][i] is value else repr(value)
            hashed: str | bytes = piece
        else:
            old, known = (last[0][i], prior) if type(prior) is bytes else ((), b"")
            hashed = _item_hashes(value, old, known)
            piece = "T" + hashed.hex()
        text.append(f"{len(piece)}:{piece}")
        items.append(hashed)
    return _digest("".join(text)).hex(), tuple(items)


def _item_hashes(value: tuple, old: tuple, known: bytes) -> bytes:
    """Each item's ``_digest(repr(item))``, taken from ``known`` (``old``'s) for an item that
    is an object of ``old``: in its place, or moved (a new comment first in a feed shifts
    every other one down, a trend window that moved on drops its first point)."""
    out, by_id = [], None
    for j, item in enumerate(value):
        if j < len(old) and old[j] is item:
            out.append(known[8 * j: 8 * j + 8])
            continue
        if by_id is None:  # old holds its items alive: an id here is that object's
            by_id = {id(o): known[8 * k: 8 * k + 8] for k, o in enumerate(old)}
        found = by_id.get(id(item))
        out.append(found if found is not None else _digest(repr(item)))
    return b"".join(out)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


def stamp(stamps: dict, key: tuple, needs: tuple) -> str:
    """``fingerprint(*needs)``, taken from ``stamps`` (a view's, ``View.stamps``) when the
    needs last stamped under ``key`` are the same: a view carried over to a new snapshot
    (``app.view_cache``) hands its parts the same objects, and ``same`` sees that by identity
    instead of writing them out again to hash them. Otherwise the items of a long need that
    are the same objects as last time (the trend's points before the change, the feed's
    comments) keep their hashes."""
    last = stamps.get(key)
    if last is not None and same(last[0], needs):
        return last[1]
    found, items = _hash(needs, None if last is None else (last[0], last[2]))
    stamps[key] = (needs, found, items)
    return found


PLAIN = (str, int, bool, type(None))


def same(a: object, b: object) -> bool:
    """Whether ``a`` and ``b`` surely have the same ``repr``: the same object, equal plain
    values of one type (not floats: 0.0 == -0.0), or tuples of such, item by item."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind in PLAIN:
        return a == b
    return kind is tuple and len(a) == len(b) and all(map(same, a, b))


def build_parts(services: Services, snapshot: Snapshot, screen: ScreenConfig,
                names: tuple[str, ...], today: date) -> tuple[View, dict[str, Part]]:
    """The view of ``screen`` in ``snapshot`` and its parts named ``names`` (from the cache,
    built only when their fingerprint changed)."""
    settings = services.settings
    view = services.poller.view(screen.request, snapshot=snapshot)
    counted: list[tuple[int, int]] = []  # the follow-up counts, read once, when needed

    def follow_ups(panel, surface: str) -> tuple[int, int] | None:
        if not screen.follow_ups or surface != "wall" or not panel.follow_ups:
            return None
        if not counted:
            counted.append(follow_up_progress(services, view))
        return counted[0]

    contexts: dict[str, tuple] = {}  # by part name: its fingerprint's, then its build's
    data_key = screen.data_key

    def context(part_name: str):
        found = contexts.get(part_name)
        if found is None:
            panel, surface = _find_part(part_name)
            found = contexts[part_name] = (panel, _part_context(
                part_name, screen.theme, settings.timezone, settings.segment_fields,
                settings.data_dir, screen.comments, screen.rest, screen.editable,
                follow_ups(panel, surface)))
        return found

    def fingerprint_of(part_name: str) -> str:
        panel, ctx = context(part_name)
        # The form counts too: a page of the build before, which has the part as components,
        # must not take the drawn form's patches for its own (a pushed answer matches by it).
        form = panel.drawer if ctx.surface in panel.drawn else ""
        return stamp(view.stamps, (data_key, part_name),
                     (part_name, form, *panel.needs(view, ctx)))

    def build(part_name: str) -> Any:
        panel, ctx = context(part_name)
        built = panel.build(view, ctx)
        return Plain(built, shared=not panel.figure) if panel.wire else built

    parts = services.parts.get((view.version, today, data_key), names, fingerprint_of, build)
    return view, parts


@functools.lru_cache(maxsize=64)
def _find_part(part_name: str) -> tuple[Any, str]:
    """``registry.find_part``, looked up once per name (every screen's every part asks)."""
    return find_part(part_name)


@functools.lru_cache(maxsize=4096)
def _part_context(part_name: str, theme: str, timezone: str, segment_fields: tuple[str, ...],
                  data_dir: str | None, comments: bool, rest: bool, editable: bool,
                  follow_ups: tuple[int, int] | None) -> PartContext:
    """A part's context (``Panel.context``), made once for all the screens that show the
    part alike (it is frozen): made per screen, per part, per change, it was 3-4% of a
    distinct screen's CPU."""
    panel, surface = _find_part(part_name)
    return panel.context(surface, theme, timezone, segment_fields, load_profanity(data_dir),
                         comments=comments, rest=rest, editable=editable,
                         follow_ups=follow_ups)


def follow_up_progress(services: Services, view: View) -> tuple[int, int]:
    """(the follow-up list's length, how many are contacted or resolved) for the view's days
    and segments: the wall's line. One count on the time index (all time reads every
    candidate: ``benchmarks/bench_follow_ups.py``); read only when a
    screen's parts are built, which is once per snapshot version, and a status change moves
    the version (``Poller``)."""
    start, end = local_bounds(view.start, view.end, services.settings.timezone)
    segments = {name: values for name, values in view.request.segments}
    return FollowUps(services.store).progress(FollowUpFilter(start, end, segments or None))


def warm_seconds(services: Services) -> float:
    """How long the poll job may spend building ahead for recent screens after a publish,
    for each of its two passes (parts, then the wall's answers): a quarter of a poll
    interval, so both together leave the job half its interval. With half an interval each,
    a flood of made-up filters held the job 2.5-2.9 s of a 3 s interval (it would skip its
    next poll under load), and the stream's wake, which runs after both, waited as long."""
    return services.settings.poll_seconds / 4


def prewarm(services: Services) -> int:
    """Build the parts of every recently active screen for the current snapshot.

    Runs in the poll job right after a publish, so screens find their parts ready and the
    request path stays a cache lookup. Returns how many screens were warmed.
    """
    today = today_in(services.settings.timezone)
    snapshot = services.poller.snapshot
    warmed = 0
    for screen, names in services.screens.within(warm_seconds(services)):
        try:
            build_parts(services, snapshot, screen, names, today)
            warmed += 1
        except Exception:  # one bad screen must not keep the others cold
            log.exception("could not prepare the parts of %s", screen.data_key)
    return warmed
