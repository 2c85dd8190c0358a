"""The nps-tv command: events, settings, upgrade, and errors that name the problem."""

from __future__ import annotations

import pytest

from app.cli import main


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("NPS_TV_DATA_DIR", settings.data_dir)
    monkeypatch.setenv("NPS_TV_TOPICS_FILE", settings.topics_file)
    monkeypatch.delenv("NPS_TV_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return settings


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


def test_event_time_without_zone_is_refused(env):
    with pytest.raises(SystemExit, match="--at: give a time zone"):
        main(["event", "add", "x", "--at", "2026-11-01T10:00:00"])


def test_settings_lists_every_variable(env, capsys):
    from app.config import SETTINGS

    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert all(s.env in out for s in SETTINGS)


def test_upgrade_reports_the_revision(env, capsys):
    assert main(["upgrade"]) == 0
    assert "revision 0001" in capsys.readouterr().out


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
