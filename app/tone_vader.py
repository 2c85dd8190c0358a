"""VADER's analyser with the same scores, faster on long comments (``app.tone`` uses it).

``vaderSentiment`` 3.3.2 lower-cases every word of the text again for each lexicon word it
scores (``_negation_check``, ``_special_idioms_check``: quadratic in the comment's length)
and copies the text one character at a time to replace emoji. ``FastAnalyzer`` overrides
exactly those steps: it lower-cases only the words the checks read, skips the emoji copy
when the text holds no emoji character, and does not call ``sentiment_valence`` for a word
outside the lexicon (it would append 0). Every rule, constant and the order of the checks are
VADER's own; ``tests/test_tone.py`` checks that both analysers give the same scores on every
comment of the topic corpus and the R surveys.
"""

from __future__ import annotations

from vaderSentiment import vaderSentiment as vader

_NEGATE = frozenset(vader.NEGATE)


def _negated(lowered: str) -> bool:
    """``vader.negated([word])`` for one lower-case word."""
    return lowered in _NEGATE or "n't" in lowered


class FastAnalyzer(vader.SentimentIntensityAnalyzer):
    """``SentimentIntensityAnalyzer`` with the same results (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.emoji_chars = frozenset(self.emojis)

    def polarity_scores(self, text):
        if not self.emoji_chars.isdisjoint(text):
            return super().polarity_scores(text)
        # VADER's own steps after its emoji pass, which leaves such a text as it was.
        text = text.strip()
        sentitext = vader.SentiText(text)
        sentiments = []
        words = sentitext.words_and_emoticons
        last = len(words) - 1
        lexicon = self.lexicon
        for i, item in enumerate(words):
            lowered = item.lower()
            if lowered in vader.BOOSTER_DICT or lowered not in lexicon or (
                    i < last and lowered == "kind" and words[i + 1].lower() == "of"):
                sentiments.append(0)  # what sentiment_valence gives a word VADER cannot score
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)

    @staticmethod
    def _negation_check(valence, words_and_emoticons, start_i, i):
        # VADER calls it with i > start_i, so every index read here is >= 0.
        one = words_and_emoticons[i - 1].lower()
        if start_i == 0:
            return valence * vader.N_SCALAR if _negated(one) else valence
        two = words_and_emoticons[i - 2].lower()
        if start_i == 1:
            if two == "never" and one in ("so", "this"):
                return valence * 1.25
            if two == "without" and one == "doubt":
                return valence
            return valence * vader.N_SCALAR if _negated(two) else valence
        if start_i == 2:
            three = words_and_emoticons[i - 3].lower()
            if three == "never" and two in ("so", "this") or one in ("so", "this"):
                return valence * 1.25
            if three == "without" and (two == "doubt" or one == "doubt"):
                return valence
            return valence * vader.N_SCALAR if _negated(three) else valence
        return valence

    @staticmethod
    def _special_idioms_check(valence, words_and_emoticons, i):
        # VADER calls it with i > 2; it reads the three words before i and two after.
        words = words_and_emoticons
        zero, one = words[i].lower(), words[i - 1].lower()
        two, three = words[i - 2].lower(), words[i - 3].lower()
        special = vader.SPECIAL_CASES
        for seq in (f"{one} {zero}", f"{two} {one} {zero}", f"{two} {one}",
                    f"{three} {two} {one}", f"{three} {two}"):
            if seq in special:
                valence = special[seq]
                break
        size = len(words)
        if size - 1 > i:
            after = words[i + 1].lower()
            if f"{zero} {after}" in special:
                valence = special[f"{zero} {after}"]
            if size - 1 > i + 1:
                zeroonetwo = f"{zero} {after} {words[i + 2].lower()}"
                if zeroonetwo in special:
                    valence = special[zeroonetwo]
        for n_gram in (f"{three} {two} {one}", f"{three} {two}", f"{two} {one}"):
            if n_gram in vader.BOOSTER_DICT:
                valence = valence + vader.BOOSTER_DICT[n_gram]
        return valence
