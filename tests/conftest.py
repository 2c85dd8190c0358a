"""Fixtures: every test gets a fresh app on a temporary store.

Declared here once (not per file): ``settings``, the stores (``sqlite_store``,
``postgres_store``, ``store`` on both), ``make_app`` (an app on the test's settings with both
test tokens, settings overridable), ``dash_app``, ``client``, ``app_store`` and
``store_client`` (a client on the ``store`` fixture's database).
"""

from __future__ import annotations

import os
import pwd
import random
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from dash import Dash
from flask.testing import FlaskClient
from sqlalchemy import text

from app.config import DEFAULT_DATA_DIR, Settings
from app.services import get_services
from app.store import ResponseRecord, Store, open_store
from app.store.database import MIGRATIONS_DIR
from app.tagging import load_tagger
from app.topics import load_taxonomy, tag_topics
from app.web import create_app

# The newest migration revision, read from the scripts (never written down a second time).
MIGRATION_HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()

# Real survey exports nobody here wrote, carried in the repo with their licences (README there).
REAL_DATA = Path(__file__).resolve().parent / "data" / "real"
POSTGRES_URL = os.environ.get(
    "NPS_TV_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TOPICS_FILE = DEFAULT_DATA_DIR / "topics.json"
# The tokens of the apps ``make_app`` builds (each at least 16 characters, never equal).
INGEST_TOKEN = "ingest-secret-0123456789"
ADMIN_TOKEN = "admin-secret-0123456789"


def real_data(name: str) -> Path:
    """Path of a real survey export in tests/data/real (shipped with the repo)."""
    path = REAL_DATA / name
    assert path.exists(), f"real survey data missing at {path}: restore tests/data/real"
    return path


def _postgres_available() -> str | None:
    try:
        store = Store(POSTGRES_URL)
        ok = store.ping()
        store.dispose()
        return None if ok else "did not answer SELECT 1"
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        return str(exc)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a temporary data folder, with the shipped topic taxonomy."""
    return Settings(data_dir=str(tmp_path), topics_file=str(TOPICS_FILE), poll_seconds=1.0,
                    poll_overlap_seconds=5.0, build_id="test-build")


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment the ``nps-tv`` command reads, pointed at the test's settings."""
    monkeypatch.setenv("NPS_TV_DATA_DIR", settings.data_dir)
    monkeypatch.setenv("NPS_TV_TOPICS_FILE", settings.topics_file)
    monkeypatch.delenv("NPS_TV_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return monkeypatch


@pytest.fixture
def tagger():
    """The shipped taxonomy's keyword tagger (the keyword layer alone, without the model)."""
    return partial(tag_topics, taxonomy=load_taxonomy(TOPICS_FILE))


@pytest.fixture
def sqlite_store(settings: Settings) -> Iterator[Store]:
    """An upgraded SQLite store in the test's temporary folder, opened as the app opens it."""
    store = open_store(settings)
    yield store
    store.dispose()


def in_ci() -> bool:
    """Whether the tests run under CI (``CI`` set, as CI services and ``.ci/run`` set it, and
    not "false" or "0"): there a missing PostgreSQL or nginx fails the test, never skips it."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_postgres() -> None:
    """Go on only with a PostgreSQL server: fail under CI (it has one), else skip, naming why."""
    reason = _postgres_available()
    if reason is not None:
        if in_ci():
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {reason}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {reason}")


@pytest.fixture
def postgres_store(settings: Settings) -> Iterator[Store]:
    """An upgraded, emptied store on the real PostgreSQL server (skipped when none answers),
    tagging as the app tags (the shipped tagger, like ``sqlite_store``)."""
    require_postgres()
    store = Store(POSTGRES_URL, tagger=load_tagger(settings).tag)
    _reset_postgres(store)
    open_store(settings, store=store)
    yield store
    store.dispose()


def _reset_postgres(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request) -> Store:
    """The store under test, once on SQLite and once on PostgreSQL."""
    name = "sqlite_store" if request.param == "sqlite" else "postgres_store"
    return request.getfixturevalue(name)


@pytest.fixture
def make_app(settings: Settings) -> Iterator[Callable[..., Dash]]:
    """Build apps on the test's settings with both test tokens set: ``make_app(**changes)``
    overrides settings, ``make_app(store=...)`` serves a given store. Stores are closed after."""
    built: list[Dash] = []

    def build(store: Store | None = None, **changes) -> Dash:
        changes = {"ingest_token": INGEST_TOKEN, "admin_token": ADMIN_TOKEN, **changes}
        dash_app = create_app(settings.replace(**changes), store=store)
        built.append(dash_app)
        return dash_app

    yield build
    for dash_app in built:
        get_services(dash_app).store.dispose()


@pytest.fixture
def dash_app(make_app: Callable[..., Dash]) -> Dash:
    """The app on a fresh SQLite store in the test's folder, with both test tokens set."""
    return make_app()


@pytest.fixture
def client(dash_app: Dash) -> FlaskClient:
    """A test client of ``dash_app``."""
    return dash_app.server.test_client()


@pytest.fixture
def app_store(dash_app: Dash) -> Store:
    """The store ``dash_app`` writes to and polls."""
    return get_services(dash_app).store


@pytest.fixture
def store_client(make_app: Callable[..., Dash], store: Store) -> FlaskClient:
    """A test client of an app on the ``store`` fixture's database (SQLite, then PostgreSQL),
    with both test tokens set."""
    return make_app(database_url=store.url).server.test_client()


LINK_SECRET = "secret words"  # in every comment of the share-link apps' stores


def seeded_app(make_app: Callable[..., Dash], store: Store, **changes) -> Dash:
    """An app on ``store`` with 40 responses over 20 days (Ledger and Pulse, EMEA) whose
    comments all say ``LINK_SECRET``, polled once."""
    dash_app = make_app(store=store, **changes)
    now = datetime.now(UTC)
    store.upsert_responses([
        make_record(i, 10 if i % 3 else 2, when=now - timedelta(days=i % 20, hours=2),
                    comment=f"{LINK_SECRET} {i}", product="Ledger" if i % 2 else "Pulse",
                    region="EMEA") for i in range(40)])
    get_services(dash_app).poller.poll()
    return dash_app


@pytest.fixture
def links_app(make_app: Callable[..., Dash], store: Store) -> Dash:
    """A links-mode app (share links or the admin token) on the ``store`` fixture's database,
    seeded as ``seeded_app`` says."""
    return seeded_app(make_app, store, access="links")


def poll(dash_app: Dash) -> None:
    """Run one poll of ``dash_app``'s poller now, as its job would."""
    get_services(dash_app).poller.poll()


def make_record(i: int, score: int, *, when: datetime | None = None, comment: str | None = None,
                source: str = "test", **segments: str) -> ResponseRecord:
    """A response record for tests; ``i`` becomes the external id."""
    return ResponseRecord(source=source, external_id=str(i), score=score,
                          created_at=when or datetime.now(UTC) - timedelta(hours=1),
                          comment=comment, segments=segments)


def wall_poll_body(config: dict, state: dict | None) -> dict:
    """The JSON body a wall screen's poll sends to /_dash-update-component."""
    from app import tv

    outputs = [{"id": i, "property": prop} for i, prop in tv.PAGE.poll_outputs()]
    return {
        "output": ".." + "...".join(f"{o['id']}.{o['property']}" for o in outputs) + "..",
        "outputs": outputs,
        "inputs": [{"id": tv.IDS.poll, "property": "n_intervals", "value": 1},
                   {"id": tv.IDS.ask, "property": "data", "value": None}],
        "state": [{"id": tv.IDS.config, "property": "data", "value": config},
                  {"id": tv.IDS.state, "property": "data", "value": state}],
        "changedPropIds": [f"{tv.IDS.poll}.n_intervals"],
    }


def write_nginx_main(prefix: Path, site: Path, connections: int = 1024) -> Path:
    """A minimal nginx main config in ``prefix`` that runs in the foreground as this user,
    keeps its temp files and logs there, and includes ``site``."""
    temp = "\n".join(f"    {name}_temp_path {prefix / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = prefix / "nginx.conf"
    main.write_text(f"""daemon off;
user {pwd.getpwuid(os.getuid()).pw_name};
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections {connections}; }}
http {{
{temp}
    include {site};
}}
""")
    return main


# Ports the tests serve on (127.0.0.1 only); a probe finds one nothing listens on right now.
# NPS_TV_TEST_PORTS=18300-18399 moves them, for runs beside other test runs on one machine.
_FIRST, _, _LAST = os.environ.get("NPS_TV_TEST_PORTS", "9400-9599").partition("-")
TEST_PORTS = range(int(_FIRST), int(_LAST) + 1)


def free_port() -> int:
    """A port of ours on 127.0.0.1 that nothing listens on right now."""
    for port in random.sample(TEST_PORTS, len(TEST_PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {TEST_PORTS.start}-{TEST_PORTS.stop - 1}")


@pytest.fixture
def compressions(monkeypatch) -> list[tuple[str, int]]:
    """Every body Flask-Compress compresses, as (algorithm, bytes), in order."""
    import flask_compress.flask_compress as flask_compress_module

    seen: list[tuple[str, int]] = []
    real = flask_compress_module._compress_data

    def counting(app, data, algorithm):
        seen.append((algorithm, len(data)))
        return real(app, data, algorithm)

    monkeypatch.setattr(flask_compress_module, "_compress_data", counting)
    return seen


@pytest.fixture(autouse=True)
def no_full_collection_of_the_test_process(monkeypatch) -> None:
    """The poller's full garbage collection every ``FULL_COLLECT_EVERY`` publishes counts the
    publishes of every app in the process, and here the process holds every earlier test's
    objects too: unfrozen and collected whole, that heap paused every thread for over a
    second, in whichever test the hundredth publish fell (a wall poll in test_faults took
    1.10 s against its 1 s). A server's own heap takes 0.2-0.35 s (issue 13 notes);
    ``tests/test_poller_garbage.py`` tests the schedule with its own count."""
    import app.poller as poller_module

    monkeypatch.setattr(poller_module, "FULL_COLLECT_EVERY", 10**9)
