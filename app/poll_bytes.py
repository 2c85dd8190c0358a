"""The wall's poll answer as bytes, built once per change and shared (issue 13).

``app.poll_answer`` answers the wall's Dash poll with them, and ``app.ask_stream`` pushes them
with a changed tick, so a told wall that has the parts the answer starts from applies it
without asking (assets/nps_tv.js serves its poll from it). Both make the same bytes from the
same (client state, status): ``answer_bytes``.

The part outputs are JSON built once per (snapshot version, day, screen data key, part
names, the part fingerprints the screen has) and shared by every screen in that place
(``services.answers``, a ``part_cache.AnswerBook``); the first thread to need one builds it,
the others wait for it. The screen's new state and the status, a few hundred bytes, are
written per answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dash import no_update
from dash._utils import stringify_id

from app import live
from app.part_patch import wire_text
from app.parts import build_parts
from app.views import today_in

if TYPE_CHECKING:
    from app.live_page import LivePage
    from app.screen import ScreenConfig
    from app.services import Services

COMPACT = (",", ":")
HEAD, TAIL = b'{"multi":true,"response":{', b"}}"  # around every answer's outputs


def encode_parts(page: LivePage, sent: dict[str, Any]) -> bytes:
    """The part outputs of an answer as Dash writes them inside ``"response"``: one
    ``"<id>":{"<property>":<value>}`` per part that is not ``no_update``, in output order."""
    items = []
    for panel in page.parts():
        value = sent.get(panel.part_name(page.surface), no_update)
        if value is no_update:
            continue
        ident, prop = page.target(panel)
        if hasattr(value, "to_plotly_json"):  # a Patch
            value = value.to_plotly_json()
        items.append(f"{json.dumps(stringify_id(ident))}:{{{json.dumps(prop)}:"
                     f"{wire_text(value)}}}")
    return ",".join(items).encode()


def fragment(services: Services, page: LivePage, screen: ScreenConfig,
             names: tuple[str, ...], known: Mapping[str, str],
             now: tuple[Any, Any]) -> tuple[bytes, str, dict[str, str]]:
    """The start of the answer for a screen that has ``known`` (``now``: the snapshot and
    the day): ``HEAD`` and the encoded part outputs, each followed by a comma; from the
    book or built once, so every screen in that place gets the same bytes object."""
    snapshot, today = now
    key = (snapshot.version, today.toordinal(), screen.data_key, names,
           tuple(known.get(name) for name in names))

    def build() -> tuple[bytes, str, dict[str, str]]:
        token, sent, hashes = live.changed_parts(services, snapshot, screen, names, today,
                                                 known, patch=True)
        parts = encode_parts(page, sent)
        return HEAD + parts + (b"," if parts else b""), token, hashes

    return services.answers.get(key, build)


def answer_bytes(services: Services, page: LivePage, screen: ScreenConfig,
                 names: tuple[str, ...], state: Mapping | None, status: dict,
                 streamed: bool = False) -> tuple[bytes, dict | None]:
    """What the page's poll callback answers a screen whose client state is ``state``
    (``live_page.run_poll`` through Dash), as bytes: the changed parts, the new state and
    ``status`` (already reported: ``live_page.report_link``); and the client state it sends
    (``live.new_state``: the screen's fingerprints and data mark afterwards; None: no parts
    were sent, the screen keeps its own). ``streamed``: it is pushed by the screen's tick
    stream (``part_cache.ActiveScreens.note``)."""
    start, own, new_state = answer_pieces(services, page, screen, names, state, status,
                                          streamed=streamed)
    return start + own, new_state


def answer_pieces(services: Services, page: LivePage, screen: ScreenConfig,
                  names: tuple[str, ...], state: Mapping | None, status: dict,
                  note: bool = True, streamed: bool = False
                  ) -> tuple[bytes, bytes, dict | None]:
    """``answer_bytes`` in two pieces, (start, own, new state): the answer is ``start +
    own``; ``start`` is shared by every screen in one place (``HEAD`` and the part
    outputs: the same object from the book, which ``app.compression`` compresses once), and
    ``own`` is this screen's (its new state and the status, a few hundred bytes). ``note``:
    build this screen's answers ahead from now on (``live.builds_ahead``), or with
    ``streamed`` let its stream's round build them (``part_cache.ActiveScreens.within``)."""
    today = today_in(services.settings.timezone)
    snapshot, mark = services.poller.current()
    if note:
        services.screens.note(screen, names, streamed=streamed)
    told = _output(page.ids.status, json.dumps(status, separators=COMPACT)) + TAIL
    if live.has_newest(snapshot, mark, today, screen, state):
        return HEAD, told, None
    start, token, hashes = fragment(services, page, screen, names,
                                    live.known_hashes(state), (snapshot, today))
    new_state = live.new_state(token, screen, mark, hashes)
    own = _output(page.ids.state, json.dumps(new_state, separators=COMPACT)) + b"," + told
    return start, own, new_state


def current_hashes(services: Services, screen: ScreenConfig,
                   names: tuple[str, ...]) -> dict[str, str]:
    """The fingerprints of the parts a screen would be sent now (built once: the part
    cache), whose JSON the patch book keeps: an answer from them is a patch even when the
    screen's own poll reached another worker."""
    today = today_in(services.settings.timezone)
    _, parts = build_parts(services, services.poller.snapshot, screen, names, today)
    for name, part in parts.items():
        services.patches.remember(screen.data_key, name, part)
    return {name: part.fingerprint for name, part in parts.items()}


def _output(ident: str, data: str) -> bytes:
    return f'{json.dumps(ident)}:{{"data":{data}}}'.encode()
