"""``nps-tv share create|list|revoke`` and ``nps-tv screens``: share links from the terminal.

Input is checked by the same rules as the admin API (``app/share_input.py``); a refused
command prints one line per bad field (``share create: --expires: ...``), exits 2 and
changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from app.config import Settings
from app.share_input import (
    LinkProblems,
    describe_browser,
    format_seconds,
    link_json,
    share_url,
    validate_link,
)
from app.store import open_store
from app.store.links import LinkConflict, ShareLinks

OPTION_OF = {"name": "NAME", "role": "--role", "screen": "--screen", "expires": "--expires",
             "comments": "--comments"}


def add_share_parsers(sub) -> None:
    """Add ``share`` and ``screens`` to the ``nps-tv`` parser."""
    share = sub.add_parser("share", help="create, list and revoke share links")
    actions = share.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a link and print its URL (once)")
    create.add_argument("name", help="who or which screen it is for, e.g. 'Lobby TV'")
    create.add_argument("--role", default="wall", help="wall (a pinned screen) or manager")
    create.add_argument("--screen", default="",
                        help="the screen, e.g. 'panels=score,trend&dwell=20&window=90d"
                             "&product=Ledger' (segment filters also limit manager links)")
    create.add_argument("--expires", help="e.g. 90d or 12h (default: never)")
    create.add_argument("--comments", default="show", help="show or hide customer comments")
    actions.add_parser("list", help="list links (never their tokens)")
    revoke = actions.add_parser("revoke", help="revoke a link by name or id")
    revoke.add_argument("name_or_id")
    share.set_defaults(func=cmd_share)
    screens = sub.add_parser("screens", help="which links' screens are alive, and on what")
    screens.set_defaults(func=cmd_screens)


def _links(settings: Settings) -> ShareLinks:
    return ShareLinks(open_store(settings))


def cmd_share(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``share create``, ``share list`` or ``share revoke``."""
    if args.action == "create":
        return _create(args, settings)
    links = _links(settings)
    if args.action == "list":
        for row in links.list_links():
            info = link_json(row, settings)
            expires = info["expires_at"] or "never"
            print(f"{row.id}\t{row.name}\t{row.role}\t{info['state']}\texpires {expires}\t"
                  f"comments {row.comments}\t{row.screen or '(default screen)'}")
        return 0
    row = links.find(args.name_or_id)
    if row is None:
        print(f"share revoke: no share link named or numbered {args.name_or_id!r}",
              file=sys.stderr)
        return 1
    links.revoke(row.id)
    print(f"share link {row.id} ({row.name}) revoked; its screens show "
          "\"This link was revoked\" within one poll")
    return 0


def _create(args: argparse.Namespace, settings: Settings) -> int:
    fields = {"name": args.name, "role": args.role, "screen": args.screen,
              "expires": args.expires, "comments": args.comments}
    try:
        values = validate_link(fields, settings)
        row, token = _links(settings).create(**values)
    except LinkProblems as exc:
        for problem in exc.problems:
            print(f"share create: {OPTION_OF.get(problem.field.split('.')[0], problem.field)}"
                  f": {_detail(problem)}", file=sys.stderr)
        return 2
    except LinkConflict as exc:
        print(f"share create: NAME: {str(exc).partition(': ')[2]}", file=sys.stderr)
        return 2
    where = ("NPS_TV_PUBLIC_URL" if settings.public_url
             else "NPS_TV_HOST and NPS_TV_PORT; set NPS_TV_PUBLIC_URL for the address "
                  "screens use")
    print(share_url(token, settings))
    print(f"share link {row.id} ({row.name}, {row.role}) created; the URL is shown only now "
          f"(base from {where})", file=sys.stderr)
    return 0


def _detail(problem) -> str:
    # screen.panels: ... keeps the parameter's name after the option
    field = problem.field
    return f"{field.partition('.')[2]}: {problem.reason}" if "." in field else problem.reason


def cmd_screens(args: argparse.Namespace, settings: Settings) -> int:
    """List every active link's screen: last seen, browser, build, trouble; flag silent ones."""
    now = datetime.now(UTC)
    rows = [link_json(row, settings, now) for row in _links(settings).list_links()]
    active = [r for r in rows if r["state"] == "active"]
    if not active:
        print("no active share links (create one with: nps-tv share create NAME)")
        return 0
    limit = settings.screen_silent_seconds
    for r in active:
        seen = ("never seen" if r["last_seen_at"] is None
                else f"seen {format_seconds(r['silent_seconds'])} ago")
        flag = f"SILENT (>{limit:g}s)" if r["silent"] else "ok"
        print(f"{r['id']}\t{r['name']}\t{r['role']}\t{flag}\t{seen}\t"
              f"browser {describe_browser(r['last_user_agent'])}\tbuild {r['last_build'] or '-'}\t"
              f"trouble {r['last_trouble'] or '-'}")
    silent = sum(1 for r in active if r["silent"])
    print(f"{len(active)} screen link(s), {silent} silent for more than {limit:g} s "
          "(NPS_TV_SCREEN_SILENT_SECONDS)")
    return 0
