"""GET /api/v1/comments.csv: the comment explorer's filters as a streaming, Excel-safe CSV,
masked as the explorer shows it unless the reader is an admin, reading the store only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

import app.export_api
from app.access import COOKIE
from app.services import get_services
from app.store.search import CommentQuery
from tests.conftest import ADMIN_TOKEN, make_record, poll

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
URL = "/api/v1/comments.csv"


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _seed(dash_app) -> None:
    """Detractors on price (EMEA, this week), promoters on support (APAC), an old one."""
    now = datetime.now(UTC)
    store = get_services(dash_app).store
    store.upsert_responses(
        [make_record(i, 2, when=now - timedelta(hours=2 + i),
                     comment=f"=HYPERLINK(\"x\") far too expensive, mail ann@x.org {i}",
                     product="Ledger", region="EMEA") for i in range(8)]
        + [make_record(100 + i, 10, when=now - timedelta(hours=3 + i),
                       comment=f"Support was quick and kind {i}", product="Pulse",
                       region="APAC") for i in range(4)]
        + [make_record(200, 1, when=now - timedelta(days=60), comment="too expensive, old",
                       product="Ledger", region="EMEA")])
    poll(dash_app)


def _table(store) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, score, comment, updated_at, segment_set_id, topic_set_id "
            "FROM responses ORDER BY id"))]


def test_the_explorers_filters_apply_and_every_page_streams(dash_app, client, monkeypatch):
    monkeypatch.setattr(app.export_api, "EXPORT_PAGE", 3)  # 8 rows: pages of 3, 3, 2
    _seed(dash_app)
    store = get_services(dash_app).store
    before = _table(store)
    rows = _csv(client.get(f"{URL}?q=expensive&category=detractor", headers=ADMIN))
    assert len(rows) == 8 and len({r["id"] for r in rows}) == 8
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows),
                                                     reverse=True)  # newest first
    assert {(r["category"], r["product"], r["region"]) for r in rows} == \
        {("detractor", "Ledger", "EMEA")}
    assert all("Pricing" in r["topics"] for r in rows)
    # The same rows the explorer finds for that search.
    found = store.search_comments(CommentQuery(text="expensive", category="detractor",
                                               created_from=datetime.now(UTC)
                                               - timedelta(days=29), limit=100))
    assert {int(r["id"]) for r in rows} == {r["id"] for r in found}
    assert len(_csv(client.get(f"{URL}?q=expensive&window=all", headers=ADMIN))) == 9
    assert len(_csv(client.get(f'{URL}?q="quick and kind"&region=APAC',
                               headers=ADMIN))) == 4
    assert _csv(client.get(f"{URL}?q=expensive&region=APAC", headers=ADMIN)) == []
    assert len(_csv(client.get(f"{URL}?topic=Pricing", headers=ADMIN))) == 8
    assert len(_csv(client.get(f"{URL}?category=promoter&product=Pulse", headers=ADMIN))) == 4
    assert _table(store) == before  # the export reads only


def test_formula_cells_are_neutralised_and_the_admin_sees_them_whole(dash_app, client):
    _seed(dash_app)
    rows = _csv(client.get(f"{URL}?q=expensive", headers=ADMIN))
    assert all(r["comment"].startswith("'=HYPERLINK") for r in rows)
    assert all("ann@x.org" in r["comment"] for r in rows)


def test_a_visitor_gets_personal_data_masked_as_the_explorer_shows_it(dash_app, client):
    _seed(dash_app)
    rows = _csv(client.get(f"{URL}?q=expensive"))  # open mode, no token: a visitor
    assert len(rows) == 8
    assert all("ann@x.org" not in r["comment"] and "[email]" in r["comment"] for r in rows)
    assert all(r["comment"].startswith("'=HYPERLINK") for r in rows)
    assert client.get(URL, headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.parametrize(("query", "field"), [
    ("category=fan", "category"), ("q=" + "y" * 101, "q"), ("topic=a%0Ab", "topic"),
    ("q=" + "x" * 201, "q"), ("window=9x", "window"), ("from=2026-99-01", "from"),
])
def test_a_bad_filter_is_a_400_naming_it(dash_app, client, query, field):
    reply = client.get(f"{URL}?{query}", headers=ADMIN)
    assert reply.status_code == 400, query
    assert [p["path"] for p in reply.get_json()["problems"]] == [field]


def test_a_link_exports_its_segments_masked_and_a_hiding_link_none(links_app):
    from tests.test_access import make_link

    _seed(links_app)
    client = links_app.server.test_client()
    assert client.get(URL).status_code in (401, 403)  # links mode: no link, no export
    _, token = make_link(links_app, role="manager", screen="region=EMEA")
    client.set_cookie(COOKIE, token)
    rows = _csv(client.get(URL))
    assert rows and {r["region"] for r in rows} == {"EMEA"}
    mailed = [r["comment"] for r in rows if "mail" in r["comment"]]
    assert len(mailed) == 8 and all("ann@x.org" not in c and "[email]" in c for c in mailed)
    assert client.get(f"{URL}?region=APAC").status_code == 403
    _, hidden = make_link(links_app, "Hidden", role="manager", screen="region=EMEA",
                          comments="hide")
    client.set_cookie(COOKIE, hidden)
    refused = client.get(URL)
    assert refused.status_code == 403
    assert refused.get_json()["problems"][0]["path"] == "comments"


def test_pages_follow_time_then_id_when_many_share_a_second(store):
    """Rows with the same time are paged by id, none lost or repeated at a page's edge."""
    when = datetime.now(UTC) - timedelta(hours=1)
    store.upsert_responses([make_record(i, 4, when=when, comment=f"same second {i}")
                            for i in range(7)])
    pages = list(store.export_comments(CommentQuery(text="same second"), ("product",), 3))
    assert [len(p) for p in pages] == [3, 3, 1]
    ids = [row[0] for page in pages for row in page]
    assert ids == sorted(set(ids), reverse=True) and len(ids) == 7
