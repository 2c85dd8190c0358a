"""The ``nps-tv`` command: serve, demo, import, event, share, screens, topics, settings,
upgrade."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app import __version__
from app.config import SETTINGS, Settings
from app.ingest.tokens import MIN_TOKEN_LENGTH, check_tokens
from app.store import StorePathError, StoreUnavailable, open_store

EXIT_CONFIGURATION = 2
EXIT_STORE_UNAVAILABLE = 3


def run_server(settings: Settings, background: threading.Thread | None = None) -> int:
    """Serve the app under gunicorn (a production WSGI server) until interrupted."""
    from app.access import access_mode, open_mode_warning
    from app.logs import configure_logging
    from app.server import WallServer

    configure_logging()  # before the workers fork, so each of them logs one line per event
    print(f"NPS TV {__version__} on http://{_display_host(settings.host)}:{settings.port}/  "
          f"(wall: /tv, manager: /, health: /health; access: {access_mode(settings)})",
          flush=True)
    warning = open_mode_warning(settings)
    if warning:
        print(f"\n{'!' * 78}\n{warning}\n{'!' * 78}\n", file=sys.stderr, flush=True)
    if background is not None:
        background.start()
    WallServer(settings).run()
    return 0


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    open_store(settings).dispose()  # migrate once, before workers start
    return run_server(settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo.history import LiveFeed, build_demo_history

    url = settings.demo_database_url
    if args.reset:
        base = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):  # a stale WAL beside a new file corrupts it
            Path(base + suffix).unlink(missing_ok=True)
    store = open_store(settings, url)
    if store.count_responses() == 0:
        print(f"Writing {settings.demo_days} days of demo history to {url} ...", flush=True)
        written = build_demo_history(store, days=settings.demo_days, seed=settings.demo_seed)
        print(f"  {written} responses and the story's events written.", flush=True)
    # The demo's store holds made-up responses only, so it stays open unless told otherwise.
    settings = settings.replace(database_url=url, access=settings.access or "open",
                                ingest_token=settings.ingest_token or demo_token(settings))
    feeder = None
    if not args.no_live:
        feeder = threading.Thread(target=_feed_forever, name="demo-feed", daemon=True,
                                  args=(LiveFeed(store),
                                        settings.demo_every_seconds))
    print(f"Open the wall: http://{_display_host(settings.host)}:{settings.port}/tv", flush=True)
    return run_server(settings, background=feeder)


def demo_token(settings: Settings) -> str:
    """The demo's own ingest token, kept in DATA_DIR/demo-token (never printed or logged)."""
    path = Path(settings.data_dir) / "demo-token"
    if not path.exists() or len(path.read_text().strip()) < MIN_TOKEN_LENGTH:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    token = path.read_text().strip()
    print(f"Demo ingest token: in {path} (send it as 'Authorization: Bearer <token>')",
          flush=True)
    return token


def _feed_forever(feed, every: float) -> None:
    stop = threading.Event()
    while not stop.wait(every):
        try:
            feed.add_one()
        except Exception as exc:  # noqa: BLE001 - a demo hiccup must not stop the feed
            print(f"demo feed: {exc}", file=sys.stderr, flush=True)


EVENT_OPTIONS = {"label": "label", "occurred_at": "--at", "kind": "--kind", "note": "--note"}


def cmd_event(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "add":
        return _add_event(args, settings)
    store = open_store(settings)
    if args.action == "list":
        for e in store.list_events():
            print(f"{e.id}\t{e.occurred_at.isoformat()}\t{e.kind}\t{e.label}")
    else:
        if not store.remove_event(args.id):
            print(f"no event with id {args.id}", file=sys.stderr)
            return 1
        print(f"event {args.id} removed")
    return 0


def _add_event(args: argparse.Namespace, settings: Settings) -> int:
    """``event add`` under the REST rules and messages; 2 and one line per problem if refused."""
    from pydantic import ValidationError

    from app.ingest.rest import validate_event
    from app.ingest.rules import TimeRange
    from app.ingest.schema import problems_from

    fields = {"label": args.label, "kind": args.kind, "occurred_at": args.at, "note": args.note}
    try:
        event = validate_event({k: v for k, v in fields.items() if v is not None},
                               TimeRange.from_settings(settings))
    except ValidationError as exc:
        for problem in problems_from(exc):
            option = EVENT_OPTIONS.get(problem["path"], problem["path"])
            print(f"event add: {option}: {problem['message']}", file=sys.stderr)
        return 2
    when = event.occurred_at or datetime.now(UTC)
    # An unavailable store raises StoreUnavailable, which main() prints in one line (exit 3);
    # any other database refusal is one line with the same exit code, never a traceback.
    try:
        event_id = open_store(settings).add_event(when, event.label, event.kind, event.note)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [""])[0]
        print(f"event add failed: {type(cause).__name__}: {first}", file=sys.stderr)
        return EXIT_STORE_UNAVAILABLE
    print(f"event {event_id} added: {when.isoformat()} {event.label}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from app.ingest.cli_import import run_import
    from app.ingest.rules import TimeRange

    return run_import(args, open_store(settings), time_range=TimeRange.from_settings(settings),
                      fields=settings.segment_fields)


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print(settings_table())
        return 0
    for s in SETTINGS:
        value = getattr(settings, s.name)
        shown = ",".join(value) if isinstance(value, tuple) else value
        if s.name.endswith(("_token", "_secret")):  # secrets never reach a terminal or log
            shown = "(set)" if value else "(not set)"
        elif s.name == "database_url" and value:
            shown = redact_database_url(value)
        print(f"{s.env}={'' if shown is None else shown}\n    {s.help} (default: {s.default})")
    return 0


# Drivers also take the password as a query parameter (psycopg and libpq: password, pymysql:
# passwd); SQLAlchemy's hide_password only hides the one in user:password@.
PASSWORD_PARAMS = {"password", "pass", "passwd", "pwd", "sslpassword"}


def redact_database_url(url: str) -> str:
    """The database URL with every password in it hidden (*** or redacted)."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - never echo what could not be parsed
        return "(set, not a valid URL)"
    query = {key: "redacted" if key.lower() in PASSWORD_PARAMS else value
             for key, value in parsed.query.items()}
    return parsed.set(query=query).render_as_string(hide_password=True)


def settings_table() -> str:
    """The README's settings table, generated from the registry."""
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    for s in SETTINGS:
        default = ",".join(s.default) if isinstance(s.default, tuple) else s.default
        if s.name == "data_dir":
            default = "data/ of a source checkout, else ~/.local/share/nps-tv"
        shown = f"`{default}`" if default not in (None, "", ()) else "(empty)"
        lines.append(f"| `{s.env}` | {shown} | {s.help} |")
    return "\n".join(lines)


def cmd_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    print(f"database at revision {store.current_revision()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of ``nps-tv``."""
    from app.cli_share import add_share_parsers
    from app.cli_topics import add_topics_parser
    from app.ingest.cli_import import add_import_parser

    parser = argparse.ArgumentParser(prog="nps-tv", description="A live NPS wall for the office.")
    parser.add_argument("--version", action="version", version=f"nps-tv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, help_ in (("serve", "serve the wall and the manager view on the configured store"),
                        ("demo", "fill a separate demo store and serve it, adding live responses")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--host", help="interface (default 127.0.0.1; 0.0.0.0 for a TV on the LAN)")
        p.add_argument("--port", type=int, help="port (default 8050)")
        p.add_argument("--workers", type=int, help="gunicorn worker processes")
        if name == "demo":
            p.add_argument("--reset", action="store_true", help="rebuild the demo store")
            p.add_argument("--no-live", action="store_true", help="do not add live responses")
        p.set_defaults(func=cmd_serve if name == "serve" else cmd_demo)

    add_import_parser(sub).set_defaults(func=cmd_import)
    add_share_parsers(sub)
    add_topics_parser(sub)

    ev = sub.add_parser("event", help="tag events on the trend (a release, a price change)")
    ev_sub = ev.add_subparsers(dest="action", required=True)
    add = ev_sub.add_parser("add", help="add an event")
    add.add_argument("label", help='what happened, e.g. "v2.3 released"')
    add.add_argument("--kind", default="note", help="release, pricing, outage, launch, note ...")
    add.add_argument("--at", help="when (ISO 8601 with zone; default now)")
    add.add_argument("--note", help="a longer description")
    ev_sub.add_parser("list", help="list events")
    rm = ev_sub.add_parser("remove", help="remove an event")
    rm.add_argument("id", type=int)
    ev.set_defaults(func=cmd_event)

    st = sub.add_parser("settings", help="print every setting, its value and help")
    st.add_argument("--markdown", action="store_true", help="print the README's table")
    st.set_defaults(func=cmd_settings)
    sub.add_parser("upgrade", help="migrate the store's schema to this version").set_defaults(
        func=cmd_upgrade)
    return parser


def check_access_settings(settings: Settings) -> None:
    """ValueError naming the variable for a bad NPS_TV_ACCESS or NPS_TV_FRAME_ANCESTORS."""
    from app.access import access_mode
    from app.hardening import check_frame_ancestors

    access_mode(settings)
    check_frame_ancestors(settings.frame_ancestors)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``nps-tv`` and ``python -m app``."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(host=getattr(args, "host", None),
                                     port=getattr(args, "port", None),
                                     workers=getattr(args, "workers", None))
        if args.func in (cmd_serve, cmd_demo):  # before workers start, not once in each
            check_tokens(settings)
            check_access_settings(settings)
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return args.func(args, settings)
    except BrokenPipeError:  # `nps-tv settings | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
        return 0
    except StorePathError as exc:  # a folder or file it may not write: say which and why
        print(f"nps-tv: {exc}; set NPS_TV_DATA_DIR (or NPS_TV_DATABASE_URL) to a writable "
              f"place", file=sys.stderr)
        return EXIT_CONFIGURATION
    except StoreUnavailable as exc:
        # One line, no traceback: the operator needs the cause, not our stack.
        print(f"nps-tv: the store is unavailable ({exc.one_line()}); try again later",
              file=sys.stderr)
        return EXIT_STORE_UNAVAILABLE
