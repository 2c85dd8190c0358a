"""``nps-tv share`` and ``nps-tv screens``: a URL printed once, clear refusals naming the
option and the reason, nothing changed by a refused command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.cli import main
from app.config import Settings
from app.share_input import LinkInputError, canonical_screen, parse_expires
from app.store import Store
from app.store.links import ShareLinks, hash_token


def links_of(env) -> ShareLinks:
    store = Store(Settings.from_env().resolved_database_url)
    store.upgrade()
    return ShareLinks(store)


def test_share_create_prints_the_short_url_once_and_stores_the_hash(env, capsys):
    code = main(["share", "create", "Lobby TV", "--screen",
                 "panels=score,trend&dwell=20&window=90d&product=Ledger", "--expires", "90d",
                 "--comments", "hide"])
    out, err = capsys.readouterr()
    assert code == 0
    url = out.strip()
    assert url.startswith("http://127.0.0.1:8050/s/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 32
    [row] = links_of(env).list_links()
    assert row.token_hash == hash_token(token)
    assert row.screen == "panels=score,trend&dwell=20&window=90d&product=Ledger"
    assert row.comments == "hide" and row.role == "wall"
    assert timedelta(days=89) < row.expires_at - datetime.now(UTC) <= timedelta(days=90)
    assert "NPS_TV_PUBLIC_URL" in err
    assert main(["share", "list"]) == 0
    listed = capsys.readouterr().out
    assert "Lobby TV" in listed and token not in listed and row.token_hash not in listed


@pytest.mark.parametrize(("screen", "stored"), [
    ("product=Ledger", "product=Ledger"),  # no window: the screen's default, left implicit
    ("panels=comments,score&dwell=3", "panels=comments,score&dwell=3"),
    ("from=2026-01-01&to=2026-01-31", "from=2026-01-01&to=2026-01-31"),
    ("", ""),
])
def test_a_screen_without_a_window_keeps_the_default_window(env, capsys, screen, stored):
    assert main(["share", "create", "Kitchen", "--screen", screen]) == 0, capsys.readouterr()
    [row] = links_of(env).list_links()
    assert row.screen == stored


def test_share_create_uses_the_public_url(env, capsys):
    env.setenv("NPS_TV_PUBLIC_URL", "https://nps.example.com/")
    assert main(["share", "create", "Remote team", "--role", "manager"]) == 0
    assert capsys.readouterr().out.startswith("https://nps.example.com/s/")


@pytest.mark.parametrize("argv, message", [
    (["--role", "boss"], "share create: --role: must be wall or manager, got 'boss'"),
    (["--expires", "0d"], "share create: --expires: must be at least 1d, got '0d'"),
    (["--expires", "abc"], "share create: --expires: must be a duration like 90d or 12h"),
    (["--expires", "99999d"], "share create: --expires: must be at most 3650d"),
    (["--comments", "maybe"], "share create: --comments: must be show or hide, got 'maybe'"),
    (["--screen", "color=red"], "share create: --screen: color: unknown parameter"),
    (["--screen", "panels=score,pie"], "share create: --screen: panels: unknown panel 'pie'"),
    (["--screen", "window=abc"], "share create: --screen: window: must be like 30d, 90d or all"),
    (["--screen", "window=0d"], "share create: --screen: window: must be at least 1d"),
    (["--screen", "dwell=1"], "share create: --screen: dwell: '1' is outside 3-3600s"),
    (["--screen", "dwell=pie:10"], "share create: --screen: dwell: unknown panel 'pie'"),
    (["--screen", "theme=pink"], "share create: --screen: theme: must be dark or light"),
    (["--screen", "product=A&product=B"], "share create: --screen: product: is given twice"),
    (["--screen", "from=1999-01-01"], "share create: --screen: from: must be between"),
])
def test_share_create_refusals_name_the_option_and_change_nothing(env, capsys, argv, message):
    assert main(["share", "create", "Lobby TV", *argv]) == 2
    assert message in capsys.readouterr().err
    assert links_of(env).list_links() == []


def test_every_bad_option_is_named_at_once(env, capsys):
    assert main(["share", "create", "123", "--role", "x", "--comments", "y"]) == 2
    err = capsys.readouterr().err
    assert "NAME: must not be only digits" in err
    assert "--role:" in err and "--comments:" in err


def test_a_taken_name_is_refused(env, capsys):
    assert main(["share", "create", "Lobby TV"]) == 0
    assert main(["share", "create", "Lobby TV", "--role", "manager"]) == 2
    assert "NAME: a share link named 'Lobby TV' exists already" in capsys.readouterr().err
    assert len(links_of(env).list_links()) == 1


def test_revoke_by_name_or_id(env, capsys):
    main(["share", "create", "Lobby TV"])
    main(["share", "create", "Kitchen"])
    assert main(["share", "revoke", "Lobby TV"]) == 0
    assert main(["share", "revoke", "2"]) == 0
    assert main(["share", "revoke", "nobody"]) == 1
    assert "no share link named or numbered 'nobody'" in capsys.readouterr().err
    assert [r.state() for r in links_of(env).list_links()] == ["revoked", "revoked"]


def test_screens_flags_silent_links_and_shows_browser_build_and_trouble(env, capsys):
    main(["share", "create", "Lobby TV"])
    main(["share", "create", "Kitchen"])
    main(["share", "create", "Old"])
    main(["share", "revoke", "Old"])
    links = links_of(env)
    lobby, kitchen = links.list_links()[:2]
    links.write_touches([
        {"id": lobby.id, "last_seen_at": datetime.now(UTC) - timedelta(seconds=5),
         "last_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36",
         "last_build": "1.0-123", "last_trouble": None},
        {"id": kitchen.id, "last_seen_at": datetime.now(UTC) - timedelta(hours=2),
         "last_user_agent": "Mozilla/5.0 Firefox/133.0", "last_build": "0.9-1",
         "last_trouble": "data source trouble"}])
    capsys.readouterr()
    assert main(["screens"]) == 0
    out = capsys.readouterr().out
    lobby_line = next(line for line in out.splitlines() if "Lobby TV" in line)
    kitchen_line = next(line for line in out.splitlines() if "Kitchen" in line)
    assert "\tok\t" in lobby_line and "Chrome 131" in lobby_line and "1.0-123" in lobby_line
    assert "SILENT" in kitchen_line and "Firefox 133" in kitchen_line
    assert "data source trouble" in kitchen_line
    assert "Old" not in out
    assert "2 screen link(s), 1 silent" in out


def test_canonical_screen_orders_and_normalises(settings):
    settings = settings.replace(segment_fields=("product", "region"))
    raw = "product=Pulse,Ledger&window=90D&panels=trend,score&dwell=20.0"
    assert canonical_screen(raw, settings) == (
        "panels=trend,score&dwell=20&window=90d&product=Ledger,Pulse")
    with pytest.raises(LinkInputError, match="screen.plan: unknown parameter"):
        canonical_screen("plan=Pro", settings)


def test_expiry_in_hours():
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert parse_expires("12h", now) == now + timedelta(hours=12)
    assert parse_expires("never", now) is None


def test_serve_open_on_a_network_address_warns_loudly(env, capsys, monkeypatch):
    from app import server

    monkeypatch.setattr(server.WallServer, "run", lambda self: None)
    env.setenv("NPS_TV_ACCESS", "open")
    assert main(["serve", "--host", "0.0.0.0", "--port", "8699"]) == 0
    out, err = capsys.readouterr()
    assert "access: open" in out
    assert "WARNING: NPS_TV_ACCESS=open while listening on 0.0.0.0" in err
    env.delenv("NPS_TV_ACCESS")
    assert main(["serve", "--host", "0.0.0.0", "--port", "8699"]) == 0
    out, err = capsys.readouterr()
    assert "access: links" in out and "WARNING" not in err


def test_serve_refuses_a_bad_access_mode(env, capsys):
    env.setenv("NPS_TV_ACCESS", "closed")
    assert main(["serve"]) == 2
    assert "NPS_TV_ACCESS: must be open or links, got 'closed'" in capsys.readouterr().err


def test_the_demo_stays_open_unless_told_otherwise(env, capsys, monkeypatch):
    from app import server

    monkeypatch.setattr(server.WallServer, "run", lambda self: None)
    env.setenv("NPS_TV_DEMO_DAYS", "2")
    assert main(["demo", "--no-live", "--port", "8698"]) == 0
    assert "access: open" in capsys.readouterr().out
    env.setenv("NPS_TV_ACCESS", "links")
    assert main(["demo", "--no-live", "--port", "8698"]) == 0
    assert "access: links" in capsys.readouterr().out
