"""Pseudo-labelled comments for training (distillation): unlabelled real comments tagged by a
larger teacher model at training time only, so the shipped bag-of-words model learns from many
more comments than people labelled while it stays as cheap to run.

``tests/data/topics/pseudo.jsonl`` is made by ``benchmarks/topic_distill.py`` (see its
docstring and SOURCES.md). Its first line is ``{"meta": {...}}`` (how it was made, and the
folds: ``folds``, ``seed`` and ``tune_ids_sha256``, the digest of the tune rows' ids in corpus
order); every other line is one comment: ``id``, ``source``, ``text``, ``topics`` (the labels of
the teacher fitted on every tune row, or null: not confident enough to train on) and ``folds``
(``{"k": labels or null}`` for each cross-validation fold k whose teacher, fitted without fold
k's tune rows, labelled it otherwise; a fold not named agrees with ``topics``), so
cross-validation in ``train.py`` stays honest: no scored row taught its teacher.
Reading it needs no model and no package beyond the standard library.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PSEUDO_NAME = "pseudo.jsonl"
Label = tuple[str, ...] | None


@dataclass(frozen=True)
class PseudoLabels:
    """Teacher-labelled comments: the final fit's labels and each fold's (None: left out)."""

    texts: tuple[str, ...]
    labels: tuple[Label, ...]
    fold_labels: tuple[tuple[Label, ...], ...]  # per row, one per fold
    meta: dict[str, Any]

    def for_fold(self, fold: int | None) -> tuple[list[str], list[tuple[str, ...]]]:
        """(texts, labels) a model trains on in ``fold`` (None: the final fit on all rows)."""
        chosen = self.labels if fold is None else [row[fold] for row in self.fold_labels]
        pairs = [(text, label) for text, label in zip(self.texts, chosen, strict=True)
                 if label is not None]
        return [text for text, _ in pairs], [label for _, label in pairs]


def tune_digest(ids: Sequence[str]) -> str:
    """The digest that ties a pseudo-label file's folds to one corpus's tune rows."""
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


def _labels(value: Any) -> Label:
    return None if value is None else tuple(str(topic) for topic in value)


def read_pseudo(path: Path) -> PseudoLabels | None:
    """The pseudo-label file at ``path``, or None when there is none."""
    if not Path(path).is_file():
        return None
    lines = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
             if line.strip()]
    if not lines or "meta" not in lines[0]:
        raise ValueError(f"{path}: the first line must be {{\"meta\": ...}}")
    rows, meta = lines[1:], dict(lines[0]["meta"])
    folds = int(meta.get("folds", 0))

    def fold_labels(row: dict[str, Any]) -> tuple[Label, ...]:
        differ = row.get("folds") or {}
        return tuple(_labels(differ[str(k)]) if str(k) in differ else _labels(row["topics"])
                     for k in range(folds))
    return PseudoLabels(tuple(r["text"] for r in rows), tuple(_labels(r["topics"]) for r in rows),
                        tuple(fold_labels(r) for r in rows), meta)


def compact_row(row: dict[str, Any], fold_labels: Sequence[Label]) -> dict[str, Any]:
    """``row`` (id, source, text, topics) with ``folds``: the folds whose labels differ."""
    final = row["topics"]
    differ = {str(k): None if label is None else list(label)
              for k, label in enumerate(fold_labels)
              if (None if label is None else list(label)) != final}
    return {**row, "folds": differ} if differ else dict(row)


def write_pseudo(path: Path, meta: dict[str, Any], rows: Sequence[dict[str, Any]]) -> int:
    """Write a pseudo-label file (meta line, then ``rows``); its size in bytes."""
    body = "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for line in [{"meta": meta}, *rows])
    Path(path).write_text(body, encoding="utf-8")
    return len(body.encode())


def fitted_to(pseudo: PseudoLabels, tune_ids: Sequence[str], folds: int) -> PseudoLabels:
    """``pseudo`` when its folds were made on these tune rows; else a copy whose every fold
    uses the final teacher's labels (its teacher then saw the scored rows, so cross-validated
    figures come out optimistic: re-run the teacher after the corpus changes)."""
    meta = pseudo.meta
    if meta.get("tune_ids_sha256") == tune_digest(tune_ids) and meta.get("folds") == folds:
        return pseudo
    return PseudoLabels(pseudo.texts, pseudo.labels,
                        tuple((label,) * folds for label in pseudo.labels),
                        {**meta, "folds_stale": True})
