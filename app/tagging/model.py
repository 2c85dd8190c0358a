"""The topic model as data: a linear one-vs-rest classifier read from JSON, never a pickle.

File format (``data/topic_model.json``, and ``topic_model.local.json`` in the data folder)::

    {"format": "nps-tv-topic-model", "version": 1,
     "topics": ["Pricing", ...],              # the topics this model decides
     "intercepts": [-2.1, ...],               # one per topic
     "thresholds": [0.4, ...],                # decision threshold on the probability, per topic
     "prior": 0.0 | null,                     # local models only: see below
     "weights": {"w:price": [[0, 2.31], [4, -0.2]], ...},   # feature -> [[topic, weight]]
     "meta": {...}}                           # how it was trained (free-form)

A feature's value is 1 when present (binary features). A local model (``learn()``) adds for
each topic the feature ``prior``: the base tagger's margin for that topic (its logit minus
its threshold's logit), so a few corrections adjust the shipped model rather than replace it.
Scoring a comment touches only its own features: a dict lookup per feature.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "nps-tv-topic-model"
VERSION = 1
PRIOR = "prior"


@dataclass(frozen=True)
class LinearModel:
    """One logistic regression per topic over binary features."""

    topics: tuple[str, ...]
    intercepts: tuple[float, ...]
    thresholds: tuple[float, ...]
    weights: Mapping[str, tuple[tuple[int, float], ...]]
    prior: tuple[float, ...] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def margins(self, features: Iterable[str],
                prior: Sequence[float] | None = None) -> list[float]:
        """Per topic, logit minus the threshold's logit: > 0 means the topic is tagged."""
        scores = list(self.intercepts)
        weights = self.weights
        for feature in features:
            for index, weight in weights.get(feature, ()):
                scores[index] += weight
        if self.prior is not None and prior is not None:
            for index, (weight, value) in enumerate(zip(self.prior, prior, strict=True)):
                scores[index] += weight * value
        return [score - cut for score, cut in zip(scores, self.cuts, strict=True)]

    @property
    def cuts(self) -> tuple[float, ...]:
        """The thresholds as logits (computed once per model)."""
        cuts = self.__dict__.get("_cuts")
        if cuts is None:
            cuts = tuple(logit(t) for t in self.thresholds)
            object.__setattr__(self, "_cuts", cuts)  # a cache on a frozen dataclass
        return cuts

    def probabilities(self, features: Iterable[str],
                      prior: Sequence[float] | None = None) -> list[float]:
        """Per topic, the model's probability (before the threshold)."""
        margins = self.margins(features, prior)
        return [sigmoid(m + logit(t)) for m, t in zip(margins, self.thresholds, strict=True)]

    def to_json(self) -> dict[str, Any]:
        """The model as a JSON-ready dict (the file format above)."""
        return {"format": FORMAT, "version": VERSION, "topics": list(self.topics),
                "intercepts": [round(b, 5) for b in self.intercepts],
                "thresholds": [round(t, 4) for t in self.thresholds],
                "prior": None if self.prior is None else [round(p, 5) for p in self.prior],
                "weights": {name: [[i, round(w, 3)] for i, w in pairs]
                            for name, pairs in sorted(self.weights.items())},
                "meta": dict(self.meta)}


def logit(probability: float) -> float:
    """The log-odds of a probability strictly between 0 and 1."""
    probability = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(probability / (1 - probability))


def sigmoid(value: float) -> float:
    """The logistic function."""
    return 1 / (1 + math.exp(-max(min(value, 50.0), -50.0)))


def model_from_json(data: Any, source: str = "<memory>") -> LinearModel:
    """Build a model from the parsed file format; ValueError names the problem."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ValueError(f"{source}: not an NPS TV topic model")
    if data.get("version") != VERSION:
        raise ValueError(f"{source}: topic model version {data.get('version')!r} is not "
                         f"{VERSION}")
    try:
        topics = tuple(str(t) for t in data["topics"])
        n = len(topics)
        intercepts = tuple(float(b) for b in data["intercepts"])
        thresholds = tuple(float(t) for t in data["thresholds"])
        prior = None if data.get("prior") is None else tuple(float(p) for p in data["prior"])
        weights = {str(name): tuple((int(i), float(w)) for i, w in pairs)
                   for name, pairs in data["weights"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{source}: malformed topic model ({exc})") from None
    lengths = {len(intercepts), len(thresholds), n} | ({len(prior)} if prior else set())
    if lengths != {n} or any(not 0 <= i < n for pairs in weights.values() for i, _ in pairs):
        raise ValueError(f"{source}: topic model sizes disagree")
    return LinearModel(topics, intercepts, thresholds, weights, prior,
                       dict(data.get("meta") or {}))


def load_model(path: Path) -> LinearModel:
    """Read a model file (JSON only; nothing is unpickled)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    return model_from_json(data, source=str(path))


def save_model(model: LinearModel, path: Path) -> int:
    """Write ``model`` to ``path`` atomically (a temporary file, then a rename); its size."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps(model.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(body)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(body.encode())
