"""``nps-tv topics report|learn|retag``: the topic correction loop from the terminal.

- ``report``: precision, recall, F1 and support per topic (and micro) of the current tagger
  against the topics admins gave the comments they corrected.
- ``learn``: train the installation's tagger on those corrections (``app.topic_learning``)
  and print before/after on the held-out part.
- ``retag``: re-tag every stored response with the current taxonomy and model, corrections
  winning, exactly once across processes (``app.store.retag``), with a progress bar.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from app.config import Settings
from app.store import open_store
from app.store.retag import DEFAULT_BATCH, RetagRun, default_owner, retag
from app.topic_learning import (
    TopicScore,
    format_scores,
    learn_from,
    report,
    tagging_fingerprint,
)


def add_topics_parser(sub) -> None:
    """Add ``topics`` to the ``nps-tv`` parser."""
    topics = sub.add_parser("topics", help="how well topics are tagged, learn from "
                                           "corrections, re-tag stored responses")
    actions = topics.add_subparsers(dest="action", required=True)
    actions.add_parser("report", help="precision/recall per topic on the corrected comments")
    actions.add_parser("learn", help="train this installation's tagger on the corrections")
    again = actions.add_parser("retag", help="re-tag every stored response (exactly once per "
                                             "taxonomy and model, across processes)")
    again.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                       help=f"responses per transaction (default {DEFAULT_BATCH})")
    again.add_argument("--no-progress", action="store_true", help="no progress bar")
    topics.set_defaults(func=cmd_topics)


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``topics report``, ``topics learn`` or ``topics retag``."""
    store = open_store(settings)
    try:
        if args.action == "retag":
            return _retag(store, settings, args)
        examples = [(c.comment, sorted(c.truth)) for c in store.corrected_comments()]
        if not examples:
            print("No corrected comments yet: correct a comment's topics in the manager "
                  "view (Edit topics) or with PUT /api/v1/responses/<id>/topics.")
            return 0
        if args.action == "report":
            per_topic, micro = report(store.tagger, examples)
            print(f"The current tagger on {len(examples)} corrected comments:")
            print("\n".join(format_scores(per_topic, micro)))
            return 0
        result = learn_from(examples, settings, store.tagger)
        print(f"Trained on {result.trained_on} corrected comments; written to {result.path}")
        for name, scores in (("before", result.before), ("after", result.after)):
            print(f"{name} (held-out corrections):")
            shown = {t: TopicScore(*s) for t, s in scores.items()}
            print("\n".join(format_scores(shown)))
        print("Run `nps-tv topics retag` to apply it to the stored responses.")
        return 0
    finally:
        store.dispose()


def _retag(store, settings: Settings, args: argparse.Namespace) -> int:
    if args.batch < 1:
        print("topics retag: --batch: must be a positive number of responses",
              file=sys.stderr)
        return 2
    me = default_owner()
    bars: list[tqdm] = []  # made at the first progress: a finished run shows no empty bar

    def progress(run: RetagRun) -> None:
        if not bars:
            bars.append(tqdm(total=run.total, unit="rows", disable=args.no_progress,
                             file=sys.stderr, desc="retag"))
        bar = bars[0]
        bar.total = max(run.total, run.scanned)
        bar.desc = "retag" if run.owner == me else f"retag (waiting for {run.owner})"
        bar.n = run.scanned
        bar.refresh()

    try:
        outcome = retag(store, tagging_fingerprint(settings), batch=args.batch, owner=me,
                        progress=progress)
    finally:
        for bar in bars:
            bar.close()
    run = outcome.run
    if not outcome.ran:
        print(f"Already re-tagged for this taxonomy and model (run {run.id} by {run.owner}, "
              f"finished {run.finished_at:%Y-%m-%d %H:%M:%S} UTC): {run.scanned} responses "
              f"read, {run.changed} changed. Nothing written (waited "
              f"{outcome.waited:.1f} s).")
        return 0
    resumed = f", resumed after id {outcome.resumed_from}" if outcome.resumed_from else ""
    print(f"Re-tagged {run.scanned} responses: {run.changed} changed{resumed}. "
          "Screens show them within one poll.")
    return 0
