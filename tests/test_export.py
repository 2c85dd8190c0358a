"""Exports and the segment comparison: Excel-safe cells, streaming in pages, who sees what,
and a ranking that does not put a three-response segment on top."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

import app.export_api
from app.access import COOKIE
from app.export import excel_safe, stream_csv
from app.services import get_services
from tests.conftest import ADMIN_TOKEN, LINK_SECRET, make_record, poll

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.parametrize(("cell", "safe"), [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("Great = value", "Great = value"), ("", ""), (None, None), (-12, -12), (9, 9),
])
def test_formula_like_cells_are_neutralised(cell, safe):
    assert excel_safe(cell) == safe


def test_stream_csv_yields_chunks_and_neutralises_every_cell(monkeypatch):
    monkeypatch.setattr("app.export.FLUSH_ROWS", 2)
    chunks = list(stream_csv(["id", "=head"], ([i, f"=cmd{i}"] for i in range(5))))
    assert len(chunks) == 3  # 2 + 2 + 1 rows (the header rides with the first)
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert rows[0] == ["id", "'=head"]
    assert rows[1:] == [[str(i), f"'=cmd{i}"] for i in range(5)]


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _seed(dash_app, n: int = 12, **segments) -> None:
    now = datetime.now(UTC)
    get_services(dash_app).store.upsert_responses([
        make_record(i, 10 if i % 2 else 3, when=now - timedelta(days=1, minutes=i),
                    comment=f"=cmd|' /C calc'!A0 call me at bob@example.com {i}",
                    **(segments or {"product": "Ledger", "region": "EMEA"}))
        for i in range(n)])
    poll(dash_app)


def test_the_responses_csv_streams_every_row_in_pages(dash_app, client, monkeypatch):
    monkeypatch.setattr(app.export_api, "EXPORT_PAGE", 5)  # 12 rows: pages of 5, 5, 2
    _seed(dash_app)
    rows = _csv(client.get("/api/v1/responses.csv", headers=ADMIN))
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    assert len(rows) == 12
    first = rows[0]
    assert first["comment"].startswith("'=cmd")  # neutralised, and the admin sees it whole
    assert "bob@example.com" in first["comment"]
    assert (first["product"], first["region"], first["excluded"]) == ("Ledger", "EMEA", "false")
    assert {r["category"] for r in rows} == {"promoter", "detractor"}
    detractors = _csv(client.get("/api/v1/responses.csv?category=detractor", headers=ADMIN))
    assert len(detractors) == 6 and {r["score"] for r in detractors} == {"3"}


def test_the_responses_csv_needs_the_admin_token_or_a_link(dash_app, client):
    _seed(dash_app)
    assert client.get("/api/v1/responses.csv").status_code == 401
    assert client.get("/api/v1/responses.csv",
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    bad = client.get("/api/v1/responses.csv?category=fan", headers=ADMIN)
    assert bad.status_code == 400 and "category" in bad.get_data(as_text=True)


def test_a_link_exports_its_segments_masked_or_without_comments(links_app):
    from tests.test_access import make_link

    client = links_app.server.test_client()
    get_services(links_app).store.upsert_responses([make_record(
        900, 4, comment=f"{LINK_SECRET}: mail bob@example.com", product="Ledger")])
    _, token = make_link(links_app, role="manager", screen="product=Ledger")
    client.set_cookie(COOKIE, token)
    rows = _csv(client.get("/api/v1/responses.csv"))
    assert rows and {r["product"] for r in rows} == {"Ledger"}
    assert all(LINK_SECRET in r["comment"] for r in rows)
    # Personal data is masked for a link, as on the screens (the admin sees it whole).
    mailed = [r["comment"] for r in rows if "mail" in r["comment"]]
    assert mailed and "bob@example.com" not in mailed[0] and "[email]" in mailed[0]
    assert client.get("/api/v1/responses.csv?product=Pulse").status_code == 403
    _, hidden = make_link(links_app, "Hidden", role="manager", screen="product=Ledger",
                          comments="hide")
    client.set_cookie(COOKIE, hidden)
    assert {r["comment"] for r in _csv(client.get("/api/v1/responses.csv"))} == {""}


def _answers(start: int, promoters: int, passives: int, detractors: int, **segments):
    when = datetime.now(UTC) - timedelta(days=2)
    scores = [10] * promoters + [8] * passives + [2] * detractors
    return [make_record(start + i, s, when=when, **segments) for i, s in enumerate(scores)]


def test_the_comparison_ranks_by_the_lower_bound_with_a_minimum(dash_app, client):
    # APAC 3/0/0: NPS 100 on 3 answers, under the minimum of 30: listed last, unranked.
    # EMEA 60/25/15 on 100: NPS 45, Var = 10,000 * (0.75 - 0.2025) / 100 = 54.75,
    # margin 1.96 * 7.40 = 14.5, lower bound 30.5.
    # NA 30/5/5 on 40: NPS 62.5, Var = 10,000 * (0.875 - 0.390625) / 40 = 121.1,
    # margin 21.6, lower bound 40.9: first, although EMEA has more answers.
    store = get_services(dash_app).store
    store.upsert_responses(_answers(0, 3, 0, 0, region="APAC")
                           + _answers(100, 60, 25, 15, region="EMEA")
                           + _answers(300, 30, 5, 5, region="NA"))
    poll(dash_app)
    body = client.get("/api/v1/compare?field=region").get_json()
    assert [(r["value"], r["rank"]) for r in body["rows"]] == \
        [("NA", 1), ("EMEA", 2), ("APAC", None)]
    na, emea, apac = body["rows"]
    assert na["lower_bound"] == pytest.approx(40.93, abs=0.01)
    assert emea["lower_bound"] == pytest.approx(30.50, abs=0.01)
    assert (apac["n"], apac["nps"]) == (3, None)  # under the minimum sample: no score
    assert body["min_rank"] == 30 and "lower bound" in body["ranked_by"]
    # Filters apply; a bad field names itself.
    assert [r["value"] for r in
            client.get("/api/v1/compare?field=region&region=EMEA").get_json()["rows"]] == ["EMEA"]
    bad = client.get("/api/v1/compare?field=colour")
    assert bad.status_code == 400 and "field" in bad.get_json()["detail"]
    rows = _csv(client.get("/api/v1/compare.csv?field=region"))
    assert [r["value"] for r in rows] == ["NA", "EMEA", "APAC"]


def test_a_scoped_link_compares_only_within_its_scope(links_app):
    from tests.test_access import make_link

    client = links_app.server.test_client()
    _, token = make_link(links_app, role="manager", screen="product=Ledger")
    client.set_cookie(COOKIE, token)
    body = client.get("/api/v1/compare?field=product&window=all").get_json()
    assert [r["value"] for r in body["rows"]] == ["Ledger"]
    assert client.get("/api/v1/compare?field=product&product=Pulse").status_code == 403
