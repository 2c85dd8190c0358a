"""Ask cheaply (issue 13): GET /api/v1/tick answers a screen's stamp with ETag/304, changes
it with the screen's data only, reads nothing from the store, and refuses as the wall does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from app import ask, live_status, tv
from app.access import COOKIE
from app.config import Settings
from app.services import get_services
from tests.conftest import make_record
from tests.test_access import make_link

TICK = "/api/v1/tick?dwell=10"


@pytest.fixture
def wall_app(make_app, sqlite_store):
    """An open app on a store with a few days of responses, polled once."""
    now = datetime.now(UTC)
    sqlite_store.upsert_responses([
        make_record(i, [10, 9, 3, 7][i % 4], when=now - timedelta(days=i % 5, hours=1),
                    comment="Quick support" if i % 3 == 0 else None,
                    product="Ledger" if i % 2 else "Pulse", region="EMEA")
        for i in range(40)])
    dash_app = make_app(store=sqlite_store)
    get_services(dash_app).poller.poll()
    return dash_app


def add_response(dash_app, i: int, score: int = 10, **segments: str) -> None:
    services = get_services(dash_app)
    services.store.upsert_responses([make_record(1000 + i, score, when=datetime.now(UTC),
                                                 comment="Fresh one", **segments)])
    services.poller.poll()


def stamp(client, path: str = TICK) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_json()["stamp"]


def test_tick_is_small_with_a_strong_etag_and_a_bodiless_304(wall_app):
    client = wall_app.server.test_client()
    first = client.get(TICK)
    body = first.get_json()
    assert first.status_code == 200 and len(first.data) < 200
    assert set(body) >= {"stamp", "ok", "hhmm", "trouble", "error", "build"}
    assert body["build"] == get_services(wall_app).build_id and body["trouble"] is False
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert float(first.headers[ask.AGE_HEADER]) >= 0
    again = client.get(TICK, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and ask.AGE_HEADER in again.headers
    assert client.get(TICK, headers={"If-None-Match": '"other"'}).status_code == 200


def test_stamp_changes_with_the_screens_data_and_not_otherwise(wall_app):
    client = wall_app.server.test_client()
    services = get_services(wall_app)
    before = stamp(client)
    services.poller.poll()  # nothing new
    assert stamp(client) == before
    pulse = stamp(client, TICK + "&product=Pulse")
    assert pulse != before  # another screen's data, another stamp
    assert stamp(client, TICK + "&dwell=20") == before  # rotation is not data
    add_response(wall_app, 1, product="Ledger")
    after = stamp(client)
    assert after != before
    assert stamp(client, TICK + "&product=Pulse") != pulse  # its mark moved too


def test_the_stamp_is_the_same_in_every_worker_for_the_same_data(make_app, wall_app):
    other = make_app(store=get_services(wall_app).store)  # a second worker on the same store
    get_services(other).poller.poll()
    assert (get_services(other).poller.snapshot.data_mark
            == get_services(wall_app).poller.snapshot.data_mark)
    assert stamp(other.server.test_client()) == stamp(wall_app.server.test_client())


def test_the_tick_reads_nothing_from_the_store(wall_app):
    client = wall_app.server.test_client()
    client.get(TICK)  # the first request of a worker may warm caches
    statements: list[str] = []
    engine = get_services(wall_app).store.engine

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            assert client.get(TICK).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_a_refused_share_link_gets_403_naming_why(make_app, sqlite_store):
    dash_app = make_app(store=sqlite_store, access="links")
    get_services(dash_app).poller.poll()
    client = dash_app.server.test_client()
    row, token = make_link(dash_app, "Lobby")
    client.set_cookie(COOKIE, token)
    assert client.get(TICK).status_code == 200
    get_services(dash_app).links.links.revoke(row.id)
    get_services(dash_app).links.refresh(force=True)
    refused = client.get(TICK)
    assert refused.status_code == 403
    assert refused.headers["X-NPS-TV-Link"] == "revoked"


def test_a_pinned_link_asking_for_more_is_refused_as_out_of_scope(make_app, sqlite_store):
    dash_app = make_app(store=sqlite_store, access="links")
    client = dash_app.server.test_client()
    _, token = make_link(dash_app, "Kitchen", screen="product=Ledger")
    client.set_cookie(COOKIE, token)
    assert client.get("/api/v1/tick?product=Ledger").status_code == 200
    wider = client.get("/api/v1/tick?product=Pulse")
    assert wider.status_code == 403 and wider.headers["X-NPS-TV-Link"] == "scope"


def test_the_wall_names_its_tick_and_how_often_to_ask(wall_app):
    services = get_services(wall_app)
    layout = tv.build_layout({"dwell": "10", "product": "Ledger"}, services)
    assert layout.to_plotly_json()["props"]["data-ask-path"] == (
        "/api/v1/tick?dwell=10&product=Ledger")
    assert layout.to_plotly_json()["props"]["data-ask-ms"] == "1000"
    assert layout.to_plotly_json()["props"]["data-stream-path"] == (  # told by default
        "/api/v1/tick/stream?dwell=10&product=Ledger")
    services.settings = services.settings.replace(ask_stream=False)
    asking = tv.build_layout({"dwell": "10", "product": "Ledger"}, services)
    assert asking.to_plotly_json()["props"]["data-stream-path"] == ""  # streams are off


def test_ask_seconds_follows_the_setting_the_poll_and_low_power():
    settings = Settings()
    assert live_status.ask_seconds(settings) == 1.0
    assert live_status.ask_seconds(settings.replace(ask_seconds=2.5)) == 2.5
    assert live_status.ask_seconds(settings.replace(ask_seconds=5, poll_seconds=2)) == 2
    assert live_status.ask_seconds(settings.replace(low_power_ask_factor=4.0),
                                   low_power=True) == 4.0
    with pytest.raises(ValueError, match="NPS_TV_ASK_SECONDS"):
        Settings.from_env({"NPS_TV_ASK_SECONDS": "0"})


def test_if_none_match_lists_and_wildcards():
    assert ask.matches('"a", W/"b"', '"b"') and ask.matches("*", '"x"')
    assert not ask.matches(None, '"x"') and not ask.matches('"a"', '"b"')
