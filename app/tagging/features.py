"""A comment's features: what the model reads and what the keyword layer found.

``extract`` runs once per comment: normalisation (``text.py``), the phrase rules and masks
(``rules.py``), and the team's keyword taxonomy (``app.topics``) on the masked text, so a
risky keyword used in another sense ("report a problem") does not count for its topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.tagging.rules import Rules, rule_features
from app.tagging.text import normalise, word_features
from app.topics import Taxonomy, tag_topics


@dataclass(frozen=True)
class Extracted:
    """The model's feature names and the taxonomy topics whose keywords matched."""

    features: frozenset[str]
    keyword_topics: tuple[str, ...]


class Extractor:
    """Features of comments for one taxonomy; built once, then pure and thread-safe."""

    def __init__(self, taxonomy: Taxonomy, rules: Rules | None = None):
        self.taxonomy = taxonomy
        self.rules = rules or Rules()

    def extract(self, comment: str) -> Extracted:
        """Features of one comment (see the module docstring)."""
        normalised = normalise(comment)
        phrase_topics = self.rules.phrase_topics(normalised.text)
        masked_text, masked = self.rules.mask(normalised.text)
        keyword_topics = tag_topics(masked_text, self.taxonomy)
        features = word_features(normalised)
        features |= rule_features(phrase_topics, masked)
        features.update(f"k:{topic}" for topic in keyword_topics)
        if not normalised.lemmas:
            features.add("empty")
        return Extracted(frozenset(features), keyword_topics)
