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
from app.views import today_in

if TYPE_CHECKING:
    from app.services import Services


@dataclass(frozen=True)
class Update:
    """What one poll of a screen sends: parts (or no_update), the client state, the status."""

    parts: dict[str, Any]
    state: Any
    status: dict


def compute_update(services: Services, screen: ScreenConfig, state: Mapping | None,
                   names: tuple[str, ...]) -> Update:
    """The live update of one screen: ``no_update`` for every part the client already has."""
    settings = services.settings
    poller = services.poller
    status = build_status(services)
    today = today_in(settings.timezone)
    snapshot, mark = poller.current()
    services.screens.note(screen, names)
    token = f"{snapshot.version}:{today.toordinal()}:{screen.data_key}"
    same_view = bool(state) and state.get("key") == screen.data_key
    if state and (state.get("token") == token
                  or (same_view and _is_behind(mark, state.get("mark")))):
        # Nothing new, or this process has not yet seen data the screen already shows (the
        # screen's last poll reached another worker or instance): never step back.
        return Update(dict.fromkeys(names, no_update), no_update, status)
    view, parts = build_parts(services, snapshot, screen, names, today)
    token = f"{view.version}:{today.toordinal()}:{screen.data_key}"
    known = (state or {}).get("hashes") or {}
    sent = {name: no_update if known.get(name) == part.fingerprint else part.payload
            for name, part in parts.items()}
    new_state = {"token": token, "key": screen.data_key, "mark": list(mark),
                 "hashes": {name: part.fingerprint for name, part in parts.items()}}
    return Update(sent, new_state, status)


def _is_behind(mine: tuple[int, int], theirs: Any) -> bool:
    """True when a screen's data mark is newer than this process's (``Poller.current``)."""
    try:
        return theirs is not None and tuple(int(x) for x in theirs) > tuple(mine)
    except (TypeError, ValueError):
        return False
