"""The nps-tv command: events, settings, upgrade, and errors that name the problem."""

from __future__ import annotations

import pytest

from app.cli import main


def test_event_add_list_remove(env, capsys):
    assert main(["event", "add", "v2.3 released", "--kind", "release",
                 "--at", "2026-11-01T10:00:00+01:00"]) == 0
    assert main(["event", "list"]) == 0
    listing = capsys.readouterr().out
    assert "2026-11-01T09:00:00+00:00\trelease\tv2.3 released" in listing
    event_id = listing.strip().splitlines()[-1].split("\t")[0]
    assert main(["event", "remove", event_id]) == 0
    assert main(["event", "remove", event_id]) == 1
    assert "no event with id" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "says"), [
    (["x", "--at", "2026-11-01T10:00:00"], "event add: --at: must include a time zone"),
    (["x", "--at", "last tuesday"], "event add: --at: must be an ISO 8601 time"),
    (["x", "--at", "0001-01-01T00:00:00Z"], "event add: --at: must lie between 2000-01-01 and "
                                            "now + 24 h, got 0001-01-01T00:00:00Z"),
    (["x", "--at", "9999-12-31T23:59:59+00:00"], "--at: must lie between 2000-01-01"),
    (["x" * 201], "event add: label: is 201 characters; the limit is 200"),
    (["v2\nreleased"], "event add: label: must be one line without control characters"),
    (["\x1b[2Jv2"], "event add: label: must be one line without control characters"),
    (["\u202edesaeler"], "event add: label: must not contain text-direction override"),
    (["   "], "event add: label: must not be empty"),
    (["x", "--kind", "big release!"], "event add: --kind: must be 1 to 40 letters"),
    (["x", "--note", "n" * 2001], "event add: --note: is 2001 characters; the limit is 2000"),
])
def test_event_add_refuses_what_rest_refuses_without_a_traceback(env, store, monkeypatch,
                                                                 capsys, argv, says):
    monkeypatch.setenv("NPS_TV_DATABASE_URL", store.url)  # SQLite, then PostgreSQL
    assert main(["event", "add", "seed", "--at", "2026-11-01T10:00:00Z"]) == 0
    capsys.readouterr()
    assert main(["event", "list"]) == 0
    before = capsys.readouterr().out
    assert "seed" in before
    assert main(["event", "add", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert main(["event", "list"]) == 0
    assert capsys.readouterr().out == before


def test_event_add_cleans_the_note_like_rest(env, capsys):
    assert main(["event", "add", "v2.4", "--at", "2026-11-01T10:00:00Z",
                 "--note", "fixes\x1b[0m\u202e\nmore"]) == 0
    from app.config import Settings
    from app.store import open_store

    [event] = open_store(Settings.from_env()).list_events()
    assert (event.label, event.note) == ("v2.4", "fixes[0m\nmore")


def test_event_range_follows_the_settings(env, monkeypatch, capsys):
    monkeypatch.setenv("NPS_TV_EARLIEST_DATE", "2026-01-01")
    assert main(["event", "add", "x", "--at", "2025-12-31T23:00:00Z"]) == 2
    assert "--at: must lie between 2026-01-01" in capsys.readouterr().err


def test_settings_lists_every_variable(env, capsys):
    from app.config import SETTINGS

    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert all(s.env in out for s in SETTINGS)


def test_upgrade_reports_the_revision(env, capsys):
    assert main(["upgrade"]) == 0
    assert "revision 0004" in capsys.readouterr().out


def test_bad_configuration_names_the_variable(env, monkeypatch, capsys):
    monkeypatch.setenv("NPS_TV_POLL_SECONDS", "often")
    assert main(["settings"]) == 2
    assert "NPS_TV_POLL_SECONDS" in capsys.readouterr().err


def test_python_dash_m_app_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("nps-tv ")


def test_demo_token_is_kept_private_and_stable(settings, capsys):
    import stat
    from pathlib import Path

    from app.cli import demo_token

    first = demo_token(settings)
    assert len(first) >= 24 and demo_token(settings) == first
    out = capsys.readouterr().out
    assert first not in out
    mode = stat.S_IMODE((Path(settings.data_dir) / "demo-token").stat().st_mode)
    assert mode & 0o077 == 0


def test_settings_hide_the_database_password(env, monkeypatch, capsys):
    monkeypatch.setenv("NPS_TV_DATABASE_URL", "postgresql://nps:hunter2@db.internal/nps")
    monkeypatch.setenv("NPS_TV_INGEST_TOKEN", "tok-abc-123")
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "tok-abc-123" not in out
    assert "db.internal" in out and "NPS_TV_INGEST_TOKEN=(set)" in out


def test_event_add_store_failure_is_one_line_and_exit_3(env, store, monkeypatch, capsys):
    monkeypatch.setenv("NPS_TV_DATABASE_URL", store.url)
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER fail_events BEFORE INSERT ON events "
                                 "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION fail_events() RETURNS trigger LANGUAGE plpgsql "
                                 "AS $$ BEGIN RAISE EXCEPTION 'No space left on device'; END $$")
            conn.exec_driver_sql("CREATE TRIGGER fail_events BEFORE INSERT ON events FOR EACH ROW "
                                 "EXECUTE FUNCTION fail_events()")
    assert main(["event", "add", "v2.3", "--at", "2026-11-01T10:00:00Z"]) == 3
    [line] = capsys.readouterr().err.strip().splitlines()
    # PostgreSQL's error counts as the store being unavailable; SQLite's trigger raises a
    # constraint error: both are one line and exit 3.
    assert line.startswith(("nps-tv: the store is unavailable (", "event add failed: "))
    assert "disk is full" in line or "No space left on device" in line
    assert store.list_events() == []


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://nps@db.internal/nps?password=hunter2",
    "postgresql://nps@db.internal/nps?sslmode=require&pass=hunter2",
    "postgresql://nps:hunter2@db.internal/nps?PASSWORD=hunter2&application_name=wall",
    "mysql+pymysql://nps@db.internal/nps?passwd=hunter2",
])
def test_settings_hide_a_password_given_in_the_query(env, monkeypatch, capsys, url):
    monkeypatch.setenv("NPS_TV_DATABASE_URL", url)
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert "db.internal" in out and "redacted" in out


def test_output_cut_short_by_its_reader_is_not_an_error(env, tmp_path):
    """`nps-tv settings | head -1`: the command stops quietly when the pipe closes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run(f"{sys.executable} -m app settings | head -1", shell=True,
                            capture_output=True, text=True, cwd=tmp_path, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert result.stdout.startswith("NPS_TV_") and "Traceback" not in result.stderr
    assert "BrokenPipe" not in result.stderr
