"""The wall's optional follow-up line ("5 detractors in the last 7 days, 4 contacted"):
turned on per screen (``followups=1``) or for all (NPS_TV_WALL_FOLLOW_UPS), counted from the
follow-up list, and moved within one poll by a status change (the snapshot version moves)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dash import Patch, no_update

from app import stamps, tv
from app.config import Settings
from app.panels.score import SCORE_FOLLOW_UPS, describe_follow_ups
from app.part_patch import to_json
from app.screen import parse_screen
from app.services import get_services
from app.share_input import LinkInputError, canonical_screen
from app.store.follow_ups import FollowUpFilter, FollowUps
from app.views import today_in
from app.web import create_app
from tests.conftest import make_record
from tests.test_part_patch import apply_patch


@pytest.fixture
def services(settings, sqlite_store):
    """Five detractors who commented this week (two in APAC), one older, promoters."""
    now = datetime.now(UTC)
    sqlite_store.upsert_responses(
        [make_record(i, 3, when=now - timedelta(days=i % 3, hours=1), comment=f"slow {i}",
                     product="Ledger", region="APAC" if i < 2 else "EMEA") for i in range(5)]
        + [make_record(10, 2, when=now - timedelta(days=20), comment="old", region="EMEA")]
        + [make_record(20 + i, 10, when=now - timedelta(hours=3), comment="great",
                       region="EMEA") for i in range(30)])
    services = get_services(create_app(settings))
    services.poller.poll()
    return services


def wall(services, query, state=None):
    """(the score part, the client state) of one wall poll."""
    outputs = tv.run_update(services, {"query": query}, state)
    names = tv.PAGE.output_names()
    return dict(zip(names, outputs[: len(names)], strict=True))["score"], outputs[-2]


def tick_stamp(services, query) -> str:
    """The stamp the wall's ask (GET /api/v1/tick) answers for ``query`` now."""
    poller = services.poller
    screen = parse_screen(query, services.settings)
    return stamps.stamper(services).stamp(poller.snapshot, today_in(services.settings.timezone),
                                       screen.data_key, poller.follow_ups_mark)


def line_of(part) -> str | None:
    """The follow-up line's text in a score part: the wall's data (``build_wall_score``), or
    components (None when it has none)."""
    if isinstance(part, dict) and "follow" in part:
        return part["follow"][0] if part["follow"] else None

    def find(node):
        if isinstance(node, dict):
            props = node.get("props", node)
            if props.get("id") == SCORE_FOLLOW_UPS:
                return props["children"]
            node = list(props.values())
        if isinstance(node, list):
            for item in node:
                if (hit := find(item)) is not None:
                    return hit
        return None
    return find(json.loads(json.dumps(part, default=lambda c: c.to_plotly_json())))


def test_the_line_reads_as_a_sentence():
    assert describe_follow_ups(5, 4, "7d", "last 7 days") == \
        "5 detractors in the last 7 days, 4 contacted"
    assert describe_follow_ups(1, 0, "all", "all time") == "1 detractor of all time, 0 contacted"
    assert describe_follow_ups(2, 1, "1d", "last 1 days") == "2 detractors today, 1 contacted"
    assert describe_follow_ups(1234, 1000, "range", "2026-01-01 to 2026-01-31") == \
        "1,234 detractors from 2026-01-01 to 2026-01-31, 1,000 contacted"


def test_a_screen_turns_it_on_and_the_environment_for_all(services, settings):
    plain = parse_screen({}, settings)
    on = parse_screen({"followups": "1", "window": "7d"}, settings)
    assert not plain.follow_ups and on.follow_ups
    assert "followups=1" in on.query and on.data_key != parse_screen({"window": "7d"},
                                                                      settings).data_key
    bad = parse_screen({"followups": "maybe"}, settings)
    assert not bad.follow_ups and any("followups" in n for n in bad.notices)
    every = settings.replace(wall_follow_ups=True)
    assert parse_screen({}, every).follow_ups
    off = parse_screen({"followups": "0"}, every)
    assert not off.follow_ups and "followups=0" in off.query
    assert Settings.from_env({"NPS_TV_WALL_FOLLOW_UPS": "1"}).wall_follow_ups
    with pytest.raises(ValueError, match="NPS_TV_WALL_FOLLOW_UPS"):
        Settings.from_env({"NPS_TV_WALL_FOLLOW_UPS": "often"})
    assert canonical_screen("followups=1&window=7d", settings) == "followups=1&window=7d"
    with pytest.raises(LinkInputError, match="followups"):
        canonical_screen("followups=yes", settings)


def test_the_wall_counts_the_screens_window_and_segments(services):
    assert line_of(wall(services, {"window": "7d"})[0]) is None  # off unless asked
    part, _ = wall(services, {"window": "7d", "followups": "1"})
    assert line_of(part) == "5 detractors in the last 7 days, 0 contacted"
    emea, _ = wall(services, {"window": "7d", "followups": "1", "region": "EMEA"})
    assert line_of(emea) == "3 detractors in the last 7 days, 0 contacted"
    month, _ = wall(services, {"window": "30d", "followups": "1"})
    assert line_of(month).startswith("6 detractors")


def test_a_status_change_moves_the_version_and_the_line_within_one_poll(services):
    query = {"window": "7d", "followups": "1"}
    part, state = wall(services, query)
    assert wall(services, query, state)[0] is no_update  # nothing new: nothing sent
    before = tick_stamp(services, query)
    book = FollowUps(services.store)
    rows = book.list(FollowUpFilter(created_from=datetime.now(UTC) - timedelta(days=7)))
    book.set(rows[0]["id"], "contacted", "Ana", "admin")
    book.set(rows[1]["id"], "resolved", None, "admin")
    version = services.poller.snapshot.version
    assert services.poller.poll() and services.poller.snapshot.version == version + 1
    assert tick_stamp(services, query) != before  # the wall's ask sees it (app/ask.py)
    moved, state = wall(services, query, state)
    assert isinstance(moved, Patch)  # the wall gets the change as a patch of its part
    line = line_of(apply_patch(to_json(part), moved))
    assert line == "5 detractors in the last 7 days, 2 contacted"
    assert not services.poller.poll()  # no change: the version stays
    assert wall(services, query, state)[0] is no_update
