"""The one live-update step of a screen: what a poll sends, and nothing when nothing changed.

``compute_update`` is a plain function so tests can call it without a browser. Its fast path
(the client already has this snapshot) compares two strings and builds a small status dict;
the parts themselves come from ``app.parts`` (built once, shared by every screen).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dash import no_update

from app.live_status import build_status
from app.parts import build_parts
from app.screen import ScreenConfig
from app.stamps import STAMP, screen_stamp, stamper
from app.views import today_in

if TYPE_CHECKING:
    from datetime import date

    from app.rollup import Snapshot
    from app.services import Services


@dataclass(frozen=True)
class Update:
    """What one poll of a screen sends: parts (or no_update), the client state, the status."""

    parts: dict[str, Any]
    state: Any
    status: dict


# The stamp the page was last told (its tick, asked or pushed), sent with its poll: the tick
# and the poll may reach different workers or instances (assets/nps_tv.js adds it).
TOLD_HEADER = "X-NPS-TV-Stamp"
# In a poll's status when this process has not caught up with the stamp the poll named (its
# catch-up timed out or was not allowed): the page polls again shortly (assets/nps_ask.js).
BEHIND = "behind"
# Sent with the wall's poll while its tick stream is open or about to be (assets/nps_ask.js,
# ``streamed``: from the page's first poll, which goes before the stream opens). The worker
# holding the stream pushes the screen its answers and notes it (``poll_bytes``), so that one
# builds them ahead; a poll reaching another worker (the first, its safety net, a push the
# page could not take) is answered but not noted, or every worker would build ahead for
# every streamed screen on every change (2 workers each built ahead for 87-93 of 100 distinct
# screens: ``benchmarks/bench_viewers.py --distinct 100``; noted by its first poll only, a
# screen was built ahead by that poll's worker for two minutes, ``ActiveScreens.max_age``:
# after a fleet's nightly reload, and throughout that benchmark's measured span).
STREAMED_HEADER = "X-NPS-TV-Streamed"


def builds_ahead(headers: Mapping[str, str]) -> bool:
    """Whether a poll with these headers notes its screen for building ahead (its tick
    stream is not open: the worker it reaches is the one to build for it)."""
    return headers.get(STREAMED_HEADER) != "1"


def compute_update(services: Services, screen: ScreenConfig, state: Mapping | None,
                   names: tuple[str, ...], patch: bool = False,
                   told: str | None = None, note: bool = True) -> Update:
    """The live update of one screen: ``no_update`` for every part the client already has;
    with ``patch``, a Dash ``Patch`` from the part it has to the new one where that is
    smaller (``app.part_patch``). ``told``: the stamp the page was told (``catch_up``);
    ``note``: build this screen's parts ahead from now on (``builds_ahead``)."""
    today = today_in(services.settings.timezone)
    status = caught_up_status(services, screen, today, told)
    snapshot, mark = services.poller.current()
    if note:
        services.screens.note(screen, names)
    if has_newest(snapshot, mark, today, screen, state):
        return Update(dict.fromkeys(names, no_update), no_update, status)
    token, sent, hashes = changed_parts(services, snapshot, screen, names, today,
                                       known_hashes(state), patch)
    return Update(sent, new_state(token, screen, mark, hashes), status)


def caught_up_status(services: Services, screen: ScreenConfig, today: date,
                     told: str | None) -> dict:
    """The poll's status, after catching up with ``told``; it says ``BEHIND`` when this
    process could not (both poll paths: here and ``app.poll_answer``)."""
    behind = catch_up(services, screen, today, told)
    status = build_status(services)
    return {**status, BEHIND: True} if behind else status


def catch_up(services: Services, screen: ScreenConfig, today: date, told: str | None) -> bool:
    """Read the store first when the page was told a stamp this process does not have;
    True when this process is still behind it afterwards (the page asks again: ``BEHIND``).

    A page is told of a change by one worker (its tick or stream) and polls for the parts,
    and the poll may reach a worker or instance that has not polled since: it would answer
    "nothing new", and a page told once (the stream) would show old data until the next
    change. Here that worker polls at once (``Poller.catch_up``: shared and rate-limited,
    so a made-up stamp costs little) and answers from what the page was told of. A stamp
    of one of its own earlier snapshots needs no read: it is past that already.
    """
    if not told or not STAMP.fullmatch(told):
        return False

    def behind() -> bool:
        return told != screen_stamp(services, screen.data_key, today) and not stamper(
            services).passed(told, screen.data_key)
    if not behind():
        return False
    services.poller.catch_up()
    return behind()


def has_newest(snapshot: Snapshot, mark: tuple[int, int], today: date, screen: ScreenConfig,
               state: Mapping | None) -> bool:
    """Whether a screen needs nothing: it has this snapshot, or this process has not yet
    seen data the screen already shows (its last poll reached another worker or instance:
    never step back)."""
    if not state:
        return False
    token = f"{snapshot.version}:{today.toordinal()}:{screen.data_key}"
    same_view = state.get("key") == screen.data_key
    return state.get("token") == token or (same_view and _is_behind(mark, state.get("mark")))


def known_hashes(state: Mapping | None) -> dict[str, str]:
    """The part fingerprints a screen says it has (text only: the state comes back from
    the browser, anyone can write it)."""
    hashes = (state or {}).get("hashes") or {}
    return {k: v for k, v in hashes.items() if isinstance(v, str)} if isinstance(
        hashes, dict) else {}


def changed_parts(services: Services, snapshot: Snapshot, screen: ScreenConfig,
                  names: tuple[str, ...], today: date, known: Mapping[str, str],
                  patch: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(the new token, what to send per part, the new fingerprints) for a screen that has
    the parts fingerprinted ``known``."""
    view, parts = build_parts(services, snapshot, screen, names, today)
    token = f"{view.version}:{today.toordinal()}:{screen.data_key}"
    book = services.patches if patch else None
    sent = {name: no_update if known.get(name) == part.fingerprint
            else book.answer(screen.data_key, name, known.get(name), part) if book
            else part.payload
            for name, part in parts.items()}
    return token, sent, {name: part.fingerprint for name, part in parts.items()}


def new_state(token: str, screen: ScreenConfig, mark: tuple[int, int],
              hashes: Mapping[str, str]) -> dict:
    """The client state a screen keeps after an answer with parts."""
    return {"token": token, "key": screen.data_key, "mark": list(mark), "hashes": dict(hashes)}


def _is_behind(mine: tuple[int, int], theirs: Any) -> bool:
    """True when a screen's data mark is newer than this process's (``Poller.current``)."""
    try:
        return theirs is not None and tuple(int(x) for x in theirs) > tuple(mine)
    except (TypeError, ValueError):
        return False
