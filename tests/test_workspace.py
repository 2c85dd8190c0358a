"""The manager's workspace (app/workspace/): its URL vocabulary and helpers, what the page
shows for a URL, that a share link's scope bounds every section, and that admin-only views
and saves refuse anyone else (a hand-made callback included)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.services import get_services
from app.store.follow_ups import FollowUpFilter, FollowUps
from app.workspace import callbacks, comment_list, compare, drill, events_editor, page
from app.workspace.follow_up_view import MESSAGE, OWNER, STATUS
from app.workspace.state import (
    Workspace,
    apply_step,
    field_values,
    parse_workspace,
    split_query,
    workspace_query,
)
from tests.conftest import ADMIN_TOKEN, make_record
from tests.test_link_pages import open_link, route_body

FIELDS = ("product", "region", "plan")
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


# --- the URL vocabulary -----------------------------------------------------------------------

def test_a_url_names_the_workspace_and_bad_values_fall_back_quietly():
    ws = parse_workspace({"view": "comments", "q": '  "too   slow"  crash ', "page": "3",
                          "category": "Detractor", "sort": "score_low", "compare": "region"},
                         FIELDS)
    assert ws == Workspace(view="comments", q='"too slow" crash', page=3, category="detractor",
                           sort="score_low", compare="region")
    bad = parse_workspace({"view": "admin", "page": "-1", "sort": "random", "period": "2026-13-01",
                           "event": "x", "compare": "email", "category": "fans"}, FIELDS)
    assert bad == Workspace()
    assert parse_workspace({"page": "\u0663"}, FIELDS).page == 1  # ASCII digits only


def test_one_drill_down_at_a_time_and_the_canonical_query_is_short():
    ws = parse_workspace({"topic": "Pricing", "period": "2026-11-02", "event": "4"}, FIELDS)
    assert (ws.topic, ws.period, ws.event) == ("Pricing", None, None)
    assert workspace_query(Workspace(topic="Pricing", sort="newest")) == {"topic": "Pricing"}
    assert workspace_query(Workspace(period=date(2026, 11, 2))) == {"period": "2026-11-02"}
    assert split_query({"window": "90d", "region": "EMEA", "topic": "Pricing"}) == (
        {"window": "90d", "region": "EMEA"}, {"topic": "Pricing"})
    assert field_values(Workspace())["sort"] == "newest" and field_values(Workspace())["q"] == ""


@pytest.mark.parametrize(("current", "step", "expected"), [
    ({"topic": "Pricing", "page": "2"}, "period=2026-11-02", {"period": "2026-11-02"}),
    ({"view": "comments", "page": "4"}, "category=detractor",
     {"view": "comments", "category": "detractor"}),
    ({"view": "comments"}, "page=2", {"view": "comments", "page": "2"}),
    ({"topic": "Pricing", "compare": "region"}, "topic=&period=&event=", {"compare": "region"}),
    ({"view": "events"}, "view=&nonsense=1", {}),
])
def test_a_step_changes_the_workspace_as_a_person_expects(current, step, expected):
    assert apply_step(current, step, FIELDS) == expected


def test_a_trend_click_names_a_period_or_an_event():
    point = {"points": [{"x": "2026-11-02", "y": 40, "customdata": 12}]}
    marker = {"points": [{"x": "2026-11-02T10:00", "customdata": "event:7"}]}
    assert callbacks.step_from_click(point) == "period=2026-11-02"
    assert callbacks.step_from_click(marker) == "event=7"
    for junk in (None, {}, {"points": []}, {"points": ["x"]}, {"points": [{"x": 3}]},
                 {"points": [{"customdata": "event:1;drop"}]}):
        assert callbacks.step_from_click(junk) is None


def test_only_inputs_that_differ_from_the_shown_workspace_make_a_step():
    shown = field_values(Workspace(view="comments", q="slow"))
    same = [{"id": {"name": "q"}, "value": "slow"}, {"id": {"name": "sort"}, "value": "newest"},
            {"id": {"name": "category"}, "value": None}]
    assert callbacks.field_step(same, shown) is None
    changed = [{"id": {"name": "q"}, "value": "too slow"}, {"id": {"name": "sort"},
                                                           "value": "newest"}]
    assert callbacks.field_step(changed, shown) == "q=too+slow"


def test_pages_bounds_and_sides():
    assert comment_list.describe_page(1, 999) == "1\u201350 of 999"
    assert comment_list.describe_page(3, 120) == "101\u2013120 of 120"
    assert comment_list.describe_page(1, 0) == "0 comments"
    assert (comment_list.last_page(0), comment_list.last_page(50), comment_list.last_page(51)) \
        == (1, 1, 2)
    start, end = comment_list.local_bounds(date(2026, 7, 1), date(2026, 7, 1), "Europe/Paris")
    assert (start, end) == (datetime(2026, 6, 30, 22, tzinfo=UTC),
                            datetime(2026, 7, 1, 22, tzinfo=UTC))
    before, after = drill.side_windows(date(2026, 11, 20), date(2026, 11, 30), 30)
    assert before == (date(2026, 11, 9), date(2026, 11, 19))
    assert after == (date(2026, 11, 20), date(2026, 11, 30))  # 11 days each: equal lengths
    assert drill.side_windows(date(2026, 1, 1), date(2026, 11, 30), 30)[0][0] == date(2025, 12, 2)


def test_the_comparison_states_its_rule_and_exports_the_same_query():
    assert compare.ranking_note(30) == ("Ranked by the lower bound of the 95% interval; fewer "
                                        "than 30 responses are not ranked.")
    assert compare.csv_href("window=90d&region=EMEA", "plan") == \
        "/api/v1/compare.csv?field=plan&window=90d&region=EMEA"


def test_the_event_form_is_read_in_the_display_zone_and_checked_by_the_apis_rules(dash_app):
    services = get_services(dash_app)
    fields = events_editor.event_fields({"label": "Launch", "when": "2026-07-01T10:30",
                                         "kind": "release", "note": ""}, "Europe/Paris")
    assert fields == {"label": "Launch", "kind": "release",
                      "occurred_at": "2026-07-01T10:30:00+02:00"}
    settings = services.settings.replace(timezone="Europe/Paris")
    saved, message = events_editor.save_event(services.store, settings, {
        "label": "Launch", "when": "2026-07-01T10:30", "kind": "release"}, None)
    assert saved and message.startswith("Added event")
    assert services.store.list_events()[0].occurred_at.replace(tzinfo=UTC) == \
        datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    for values, problem in (({"label": ""}, "label"), ({"label": "x", "kind": "no spaces"},
                                                       "kind"),
                            ({"label": "x", "when": "1990-01-01T00:00"}, "occurred_at")):
        saved, message = events_editor.save_event(services.store, settings, values, None)
        assert not saved and problem in message
    assert len(services.store.list_events()) == 1
    assert "there is no event 99" in events_editor.save_event(
        services.store, settings, {"label": "x"}, 99)[1]


# --- the page ---------------------------------------------------------------------------------

def seed(store) -> None:
    now = datetime.now(UTC)
    store.upsert_responses([
        make_record(i, (2, 9, 10, 6)[i % 4], when=now - timedelta(days=i % 20, hours=2),
                    comment=f"Too expensive, {'EMEA' if i % 2 else 'APAC'} reply to ann@x.org",
                    product="Ledger", region="EMEA" if i % 2 else "APAC") for i in range(40)])


def find_id(tree, wanted: str):
    """The component with id ``wanted`` in a Dash response's JSON."""
    if isinstance(tree, dict):
        if tree.get("id") == wanted:
            return tree
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            if (hit := find_id(item, wanted)) is not None:
                return hit
    return None


def page_of(client, search: str, headers=None) -> str:
    """The workspace section of the manager page for ``search``, as JSON text."""
    reply = client.post("/_dash-update-component", json=route_body("/", search),
                        headers=headers or {})
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    return json.dumps(find_id(reply.get_json(), page.ROOT), ensure_ascii=False)


def test_a_topic_url_opens_its_comments_masked_for_visitors(client, app_store, dash_app):
    seed(app_store)
    get_services(dash_app).poller.poll()
    shown = page_of(client, "?topic=Pricing&compare=region")
    assert "ws-drill--topic" in shown and "1\u201340 of 40" in shown
    assert "ann@x.org" not in shown and "[email]" in shown
    assert "Ranked by the lower bound of the 95% interval" in shown
    assert "/api/v1/compare.csv?field=region" in shown
    admin = page_of(client, "?view=comments&q=expensive", AUTH)
    assert "ann@x.org" in admin and "/api/v1/comments.csv?" in admin and "q=expensive" in admin


def test_visitors_get_no_admin_views_and_admins_do(client, app_store, dash_app):
    seed(app_store)
    get_services(dash_app).poller.poll()
    for search in ("?view=follow-ups", "?view=events"):
        shown = page_of(client, search)
        assert page.ADMINS_ONLY in shown
        assert "Follow-ups" not in shown and STATUS not in shown and "ev-form" not in shown
    admin = page_of(client, "?view=follow-ups", AUTH)
    assert STATUS in admin and "Follow-ups" in admin and "/api/v1/follow-ups.csv?" in admin
    assert "ev-form" in page_of(client, "?view=events", AUTH)


def test_the_follow_up_view_pages_by_fifty_and_includes_passives_on_request(client, app_store,
                                                                          dash_app):
    now = datetime.now(UTC)
    app_store.upsert_responses(
        [make_record(i, i % 7, when=now - timedelta(hours=1 + i), comment=f"slow {i}",
                     product="Ledger", region="EMEA") for i in range(60)]
        + [make_record(100 + i, 8, when=now - timedelta(hours=1), comment=f"meh {i}",
                       product="Ledger", region="EMEA") for i in range(5)])
    get_services(dash_app).poller.poll()
    first = page_of(client, "?view=follow-ups", AUTH)
    assert first.count('"fu-item"') == 50 and "1\u201350 of 60" in first
    assert "meh" not in first and "Include passives" in first
    second = page_of(client, "?view=follow-ups&page=2", AUTH)
    assert second.count('"fu-item"') == 10 and "51\u201360 of 60" in second
    both = page_of(client, "?view=follow-ups&passives=1&page=2", AUTH)
    assert both.count('"fu-item"') == 15 and "of 65" in both
    assert "meh" in page_of(client, "?view=follow-ups&passives=1", AUTH)
    assert "follow-ups.csv?passives=1" in both
    ws = parse_workspace({"view": "follow-ups", "passives": "1", "page": "2"}, FIELDS)
    assert ws.passives and workspace_query(ws) == {"view": "follow-ups", "page": "2",
                                                   "passives": "1"}
    assert apply_step(workspace_query(ws), "passives=", FIELDS) == {"view": "follow-ups"}
    assert not parse_workspace({"passives": "yes"}, FIELDS).passives


def follow_up_body(rid: int, status: str, owner: str) -> dict:
    ids = [{"type": STATUS, "id": rid}], [{"type": OWNER, "id": rid}]
    return {"output": f"{MESSAGE}.children",
            "outputs": {"id": MESSAGE, "property": "children"},
            "inputs": [[{"id": ids[0][0], "property": "value", "value": status}],
                       [{"id": ids[1][0], "property": "value", "value": owner}]],
            "changedPropIds": [json.dumps(ids[0][0], separators=(",", ":"), sort_keys=True)
                               + ".value"]}


def test_a_forged_follow_up_save_is_refused_and_an_admins_is_kept(client, app_store):
    seed(app_store)
    book = FollowUps(app_store)
    rid = book.list(FollowUpFilter())[0]["id"]
    forged = client.post("/_dash-update-component", json=follow_up_body(rid, "resolved", "Eve"))
    assert forged.get_json()["response"][MESSAGE]["children"] == page.ADMINS_ONLY
    assert book.counts(FollowUpFilter())["resolved"] == 0
    saved = client.post("/_dash-update-component", json=follow_up_body(rid, "contacted", "Ana"),
                        headers=AUTH)
    assert "is contacted, owner Ana" in saved.get_data(as_text=True)
    assert book.list(FollowUpFilter(status="contacted"))[0]["owner"] == "Ana"


def event_body(form: dict) -> dict:
    button = {"type": events_editor.ACT, "act": "save", "id": 0}
    states = [{"id": {"type": events_editor.FORM, "name": k}, "property": "value", "value": v}
              for k, v in form.items()]
    return {"output": f"{page.STATE}.data@x", "outputs": {"id": page.STATE, "property": "data"},
            "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
            "state": [states, {"id": page.STATE, "property": "data",
                               "value": {"view": "events"}}],
            "changedPropIds": [json.dumps(button, separators=(",", ":"), sort_keys=True)
                               + ".n_clicks"]}


def test_a_forged_event_is_refused_and_an_admins_is_stored(client, app_store, dash_app):
    deps = client.get("/_dash-dependencies").get_json()
    body = event_body({"label": "Price change", "kind": "pricing", "when": "", "note": ""})
    body["output"] = next(d["output"] for d in deps if events_editor.ACT in json.dumps(
        d["inputs"]))
    forged = client.post("/_dash-update-component", json=body)
    assert forged.get_json()["response"][page.STATE]["data"][page.MESSAGE_KEY] == page.ADMINS_ONLY
    assert app_store.list_events() == []
    saved = client.post("/_dash-update-component", json=body, headers=AUTH)
    assert "Added event" in saved.get_data(as_text=True)
    assert [e.label for e in app_store.list_events()] == ["Price change"]


def test_a_manager_link_sees_only_its_segments_in_every_section(make_app, sqlite_store):
    seed(sqlite_store)
    dash_app = make_app(store=sqlite_store, access="links")
    get_services(dash_app).poller.poll()
    client, _ = open_link(dash_app, role="manager", screen="region=EMEA")
    # The day of seed's response 1 (EMEA, a day and two hours ago): before 02:00 UTC that is
    # two days back, so "yesterday" would hold APAC's responses only.
    yesterday = (datetime.now(UTC) - timedelta(days=1, hours=2)).date().isoformat()
    for search in ("?topic=Pricing", "?view=comments&q=expensive",
                   "?region=APAC&view=comments", f"?region=APAC&period={yesterday}"):
        shown = page_of(client, search)
        assert "EMEA reply" in shown and "APAC" not in shown, search
    for search in ("?compare=region", "?region=APAC&compare=region"):
        compared = page_of(client, search)
        assert compared.count("ws-compare-row") == 1 and "APAC" not in compared, search
    book = get_services(dash_app).links
    _, token = book.links.create("no comments", "manager", "", "hide")
    book.refresh(force=True)
    hidden = dash_app.server.test_client()
    assert hidden.get(f"/s/{token}").status_code == 303
    assert "not shared through this link" in page_of(hidden, "?topic=Pricing")
    assert "reply to" not in page_of(hidden, "?view=comments")


def test_an_admins_odd_follow_up_values_save_nothing(client, app_store):
    seed(app_store)
    book = FollowUps(app_store)
    rid = book.list(FollowUpFilter())[0]["id"]
    for body in (follow_up_body(rid, "escalated", "Ana"), follow_up_body(rid, "new", "A\nB"),
                 follow_up_body(10**9, "contacted", "")):
        reply = client.post("/_dash-update-component", json=body, headers=AUTH)
        assert "Not saved" in reply.get_json()["response"][MESSAGE]["children"]
    assert book.counts(FollowUpFilter()) == {"new": 20, "contacted": 0, "resolved": 0}
    with app_store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM follow_ups")).scalar_one() == 0


def test_a_nul_in_the_address_is_dropped_not_sent_to_the_store(client, app_store, dash_app):
    seed(app_store)
    get_services(dash_app).poller.poll()
    for search in ("?view=comments&q=%00abc", "?view=comments&q=ab%00", "?topic=Pricing%00"):
        reply = client.post("/_dash-update-component", json=route_body("/", search))
        assert reply.status_code == 200, (search, reply.get_data(as_text=True)[:200])


def test_past_the_count_cap_the_pager_says_more_and_goes_on(monkeypatch):
    monkeypatch.setattr(comment_list, "COUNT_CAP", 1_000)
    assert comment_list.describe_page(21, 1_001, shown=50) == \
        "1,001\u20131,050 of more than 1,000"
    full, short = comment_list.build_pager(3, 1_001, 50), comment_list.build_pager(3, 1_001, 7)
    assert _next_disabled(full) is False and _next_disabled(short) is True


def _next_disabled(nav) -> bool:
    return nav.children[-1].disabled


def test_forged_saves_with_ids_past_bigint_are_refused_politely(app_store):
    from app.workspace.follow_up_view import save_follow_up

    assert save_follow_up(app_store, 2**70, "contacted", "") == "Not saved: no such follow-up"
    assert events_editor.remove_event(app_store, 2**70) == "Not removed: no such event"
