"""The topic tagger the store calls for every comment: the team's taxonomy names the topics,
the shipped model (and an installation model, when ``learn()`` wrote one) decides the topics it
knows, and keywords alone decide the rest (a team's own topics).

Per comment: one normalisation, the phrase rules, one keyword scan and a dot product over the
comment's own features; no I/O, nothing shared is written, so one ``Tagger`` serves every
thread. See docs/architecture.md, "Topic tagging".
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from app.config import SHIPPED_MODEL_FILE, Settings
from app.tagging.features import Extracted, Extractor
from app.tagging.model import LinearModel, load_model
from app.tagging.text import warm_up
from app.topics import Taxonomy, load_taxonomy, tag_topics

LOCAL_MODEL_NAME = "topic_model.local.json"
# What a keyword hit (or its absence) counts for, as a margin, where no model knows the topic:
# the prior a local model starts from for a team's own topic.
KEYWORD_MARGIN = 2.0


class Tagger:
    """Tags comments with the topics of one taxonomy (see the module docstring)."""

    def __init__(self, taxonomy: Taxonomy, model: LinearModel | None = None,
                 local: LinearModel | None = None):
        self.taxonomy = taxonomy
        self.topics: tuple[str, ...] = taxonomy.names
        self.model = model
        self.taxonomy_set = frozenset(self.topics)
        self.local = local
        self.extractor = Extractor(taxonomy)
        known = set(model.topics) if model else set()
        # Topics the shipped model does not know: their keywords, matched on the comment as
        # written, find them (an installation model may find more, never fewer).
        self.keyword_only = frozenset(set(self.topics) - known)

    def tag(self, text: str | None) -> list[str]:
        """The topics ``text`` is about, in taxonomy order; [] for None or blank text."""
        if not text or not text.strip():
            return []
        margins = self.margins(text)
        return [topic for topic in self.topics if margins[topic] > 0]

    def margins(self, text: str, extracted: Extracted | None = None) -> dict[str, float]:
        """Per taxonomy topic, how far the comment is past its threshold (> 0: tagged)."""
        extracted = extracted or self.extractor.extract(text)
        margins = self.base_margins(text, extracted)
        if self.local is not None:
            prior = [margins.get(topic, -KEYWORD_MARGIN) for topic in self.local.topics]
            learned = self.local.margins(extracted.features, prior)
            for topic, margin in zip(self.local.topics, learned, strict=True):
                if topic in self.keyword_only:  # a team's own keywords keep working
                    margin = max(margin, margins[topic])
                margins[topic] = margin
        return margins

    def base_margins(self, text: str, extracted: Extracted) -> dict[str, float]:
        """Margins from the shipped model and keywords, without the installation model."""
        margins: dict[str, float] = {}
        if self.keyword_only:
            found = set(tag_topics(text, self.taxonomy))
            margins = {topic: KEYWORD_MARGIN if topic in found else -KEYWORD_MARGIN
                       for topic in self.keyword_only}
        if self.model is not None:
            shipped = self.model.margins(extracted.features)
            margins.update((t, m) for t, m in zip(self.model.topics, shipped, strict=True)
                           if t in self.taxonomy_set)
        return margins

    def without_local(self) -> Tagger:
        """The same tagger without its installation model (the base ``learn()`` builds on)."""
        return Tagger(self.taxonomy, self.model) if self.local else self

    def base_prior(self, texts: Sequence[str], topics: Sequence[str]) -> list[list[float]]:
        """Per text, the base margins of ``topics`` (a local model's ``prior`` inputs)."""
        base = Tagger(self.taxonomy, self.model)
        rows = []
        for text in texts:
            margins = base.margins(text)
            rows.append([margins.get(topic, -KEYWORD_MARGIN) for topic in topics])
        return rows


def local_model_path(settings: Settings) -> Path:
    """Where ``learn()`` writes, and ``load_tagger`` reads, the installation's own model."""
    return Path(settings.data_dir) / LOCAL_MODEL_NAME


def load_tagger(settings: Settings, taxonomy: Taxonomy | None = None) -> Tagger:
    """The configured taxonomy, the shipped model and the installation model when present."""
    if taxonomy is None:
        taxonomy = load_taxonomy(settings.resolved_topics_file)
    local_path = local_model_path(settings)
    local = load_model(local_path) if local_path.is_file() else None
    warm_up()
    return Tagger(taxonomy, shipped_model(), local)


@lru_cache(maxsize=1)
def shipped_model() -> LinearModel:
    """The shipped model, read once per process (it is immutable, so every tagger shares it)."""
    return load_model(SHIPPED_MODEL_FILE)
