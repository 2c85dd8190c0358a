"""Topic tagging accuracy and cost: the keyword tagger against the shipped tagger (app/tagging)
on the labelled corpus (tests/data/topics/corpus.jsonl).

For each part of the corpus it prints per-topic precision, recall, F1 and support, and micro
and macro F1, for both taggers:

- tune: the part the model is trained on. The new tagger's figures there are cross-validated
  (each comment scored by a model fitted without it, 5 folds, the thresholds chosen on the
  same folds; the pseudo-labelled comments of each fold come from a teacher fitted without
  that fold, see app/tagging/pseudo.py), so they are neither in-sample nor fully unbiased;
- heldout: never used for training or tuning; the shipped model as it is.

Only aggregate figures are printed, never a comment. Then the tagging cost per comment (mean
and 95th percentile, in microseconds) over every comment of the corpus.

Goal (issue 11): held-out micro-F1 >= 0.85 and F1 >= 0.75 for every topic with at least 20
held-out examples. Run: ``python benchmarks/bench_topics.py [--corpus PATH] [--skip-cv]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import SHIPPED_MODEL_FILE, SHIPPED_TOPICS_FILE  # noqa: E402
from app.tagging.model import load_model  # noqa: E402
from app.tagging.pseudo import PSEUDO_NAME, fitted_to, read_pseudo  # noqa: E402
from app.tagging.scoring import micro_macro, score_topics  # noqa: E402
from app.tagging.tagger import Tagger  # noqa: E402
from app.tagging.text import warm_up  # noqa: E402
from app.tagging.train import FOLDS, TARGETED_NAME, read_corpus, read_targeted, train  # noqa: E402
from app.topics import load_taxonomy, tag_topics  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "topics" / "corpus.jsonl"
AGREEMENT = CORPUS.with_name("agreement.jsonl")
ADJUDICATED = CORPUS.with_name("adjudicated.jsonl")
GOAL_MICRO_F1 = 0.85
GOAL_TOPIC_F1 = 0.75
GOAL_MIN_SUPPORT = 20
Labels = Sequence[Collection[str]]


def print_table(title: str, truth: Labels, guesses: dict[str, Labels],
                topics: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """Per-topic P/R/F1 of each tagger side by side, then micro and macro F1; the averages."""
    names = list(guesses)
    print(f"\n{title} ({len(truth)} comments, {sum(not t for t in truth)} without a topic)")
    header = f"{'topic':<15}{'n':>5}" + "".join(f"  {n[:18]:>18} P/R/F1" for n in names)
    print(header)
    scores = {name: score_topics(truth, guess, topics) for name, guess in guesses.items()}
    for topic in topics:
        support = scores[names[0]][topic][3]
        cells = "".join(f"  {p:>9.2f}/{r:.2f}/{f:.2f}" for p, r, f, _ in
                        (scores[name][topic] for name in names))
        print(f"{topic:<15}{support:>5}{cells}")
    averages = {name: micro_macro(truth, guess, topics) for name, guess in guesses.items()}
    for name, (p, r, f1, macro) in averages.items():
        print(f"  {name}: micro P {p:.3f} R {r:.3f} F1 {f1:.3f}; macro F1 {macro:.3f}")
    return averages


def cross_validated(rows: list[dict], topics: Sequence[str]) -> list[list[str]]:
    """The new tagger's tags of the tune rows, each from a model fitted without that row."""
    targeted = read_targeted(CORPUS.with_name(TARGETED_NAME))
    pseudo = read_pseudo(CORPUS.with_name(PSEUDO_NAME))
    if pseudo is not None:
        pseudo = fitted_to(pseudo, [r["id"] for r in rows], FOLDS)
    model, report = train([r["text"] for r in rows], [r["topics"] for r in rows],
                          load_taxonomy(SHIPPED_TOPICS_FILE),
                          targeted=([r["text"] for r in targeted],
                                    [r["topics"] for r in targeted]), pseudo=pseudo)
    known = report["topics"]
    probabilities = report["probabilities"]
    return [[t for j, t in enumerate(known) if probabilities[i, j] >= model.thresholds[j]]
            for i in range(len(rows))]


def cost(tag: Callable[[str], object], texts: Sequence[str]) -> tuple[float, float, float]:
    """Mean and 95th percentile of the (wall) time to tag one comment, and the mean CPU time
    of this process per comment (less moved by other load on the machine), in microseconds."""
    for text in texts[:50]:
        tag(text)
    times = []
    cpu = time.process_time()
    for text in texts:
        start = time.perf_counter()
        tag(text)
        times.append((time.perf_counter() - start) * 1e6)
    cpu = (time.process_time() - cpu) * 1e6 / len(texts)
    times.sort()
    return sum(times) / len(times), times[int(len(times) * 0.95)], cpu


def goal_verdict(truth: Labels, guess: Labels, topics: Sequence[str]) -> bool:
    """Print whether the held-out figures meet the goal; True when they do."""
    micro = micro_macro(truth, guess, topics)[2]
    weak = {t: f for t, (_, _, f, n) in score_topics(truth, guess, topics).items()
            if n >= GOAL_MIN_SUPPORT and f < GOAL_TOPIC_F1}
    met = micro >= GOAL_MICRO_F1 and not weak
    print(f"\ngoal on heldout: micro-F1 {micro:.3f} (>= {GOAL_MICRO_F1}); topics with >= "
          f"{GOAL_MIN_SUPPORT} examples under F1 {GOAL_TOPIC_F1}: "
          f"{', '.join(f'{t} {f:.2f}' for t, f in weak.items()) or 'none'}: "
          f"{'MET' if met else 'NOT MET'}")
    return met


def human_agreement(topics: Sequence[str], tag: Callable[[str], Collection[str]],
                    corpus: dict[str, dict]) -> None:
    """How far two people agree: the first pass against a second labeller who labelled the
    same comments without seeing it (``agreement.jsonl``, see LABELLING.md). A ceiling of
    sorts: a model scored against one person's labels is unlikely to beat another person.
    Then each label set and the shipped tagger against the adjudicated gold of the same
    comments (``adjudicated.jsonl``); the tagger only on those in the held-out part, since it
    was trained on the others."""
    rows = [json.loads(line) for line in AGREEMENT.read_text(encoding="utf-8").splitlines()]
    first, second = [r["first"] for r in rows], [r["second"] for r in rows]
    p, r, f1, macro = micro_macro(first, second, topics)
    print(f"\nhuman agreement ({len(rows)} comments labelled twice, blind): micro F1 {f1:.3f} "
          f"(P {p:.3f} R {r:.3f}); macro F1 {macro:.3f}")
    gold = [json.loads(line) for line in ADJUDICATED.read_text(encoding="utf-8").splitlines()]
    truth = [g["gold"] for g in gold]
    for name in ("first", "second"):
        p, r, f1, macro = micro_macro(truth, [g[name] for g in gold], topics)
        print(f"  {name} label set against the adjudicated gold ({len(gold)}): micro F1 "
              f"{f1:.3f} (P {p:.3f} R {r:.3f}); macro F1 {macro:.3f}")
    held = [g for g in gold if corpus[g["id"]]["split"] == "heldout"]
    truth = [g["gold"] for g in held]
    figures = {name: micro_macro(truth, [g[name] for g in held], topics)[2]
               for name in ("first", "second")}
    figures["tagger"] = micro_macro(truth, [tag(corpus[g["id"]]["text"]) for g in held],
                                    topics)[2]
    print(f"  on the {len(held)} of them in the held-out part, micro F1 against the gold: "
          + ", ".join(f"{name} {f1:.3f}" for name, f1 in figures.items()))


def main(argv: list[str] | None = None) -> int:
    """Print the accuracy tables and the cost; exit 0 when the held-out goal is met."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--skip-cv", action="store_true",
                        help="leave out the cross-validated tune figures (they retrain)")
    args = parser.parse_args(argv)
    taxonomy = load_taxonomy(SHIPPED_TOPICS_FILE)
    topics = taxonomy.names
    warm_up()
    tagger = Tagger(taxonomy, load_model(SHIPPED_MODEL_FILE))
    print(f"model {SHIPPED_MODEL_FILE.name}: {SHIPPED_MODEL_FILE.stat().st_size / 1024:.0f} KiB, "
          f"{len(tagger.model.weights)} features")
    everything = read_corpus(args.corpus, split=None)
    parts = {split: [r for r in everything if r["split"] == split] for split in ("tune", "heldout")}
    for split, rows in parts.items():
        truth = [r["topics"] for r in rows]
        texts = [r["text"] for r in rows]
        guesses = {"keywords": [tag_topics(t, taxonomy) for t in texts]}
        if split == "tune" and not args.skip_cv:
            guesses["model (cross-val.)"] = cross_validated(rows, topics)
        elif split == "heldout":
            guesses["model (shipped)"] = [tagger.tag(t) for t in texts]
        print_table(f"{split}", truth, guesses, topics)
    human_agreement(topics, tagger.tag, {r["id"]: r for r in everything})
    texts = [r["text"] for r in everything]
    for name, tag in (("keywords", lambda t: tag_topics(t, taxonomy)), ("tagger", tagger.tag)):
        mean, p95, cpu = cost(tag, texts)
        print(f"cost per comment, {name}: mean {mean:.0f} us, p95 {p95:.0f} us, CPU {cpu:.0f} us "
              f"({len(texts)} comments; load {os.getloadavg()[0]:.2f})")
    heldout = parts["heldout"]
    met = goal_verdict([r["topics"] for r in heldout], [tagger.tag(r["text"]) for r in heldout],
                       topics)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
