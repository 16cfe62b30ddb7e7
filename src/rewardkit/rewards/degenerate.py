"""Degenerate responses: what gets ALaRM's fixed holistic penalty (`degenerate_penalty` in a reward YAML).

ALaRM gives degenerate outputs a holistic reward of -10 instead of the reward model's score, so that no aspect
bonus can make one worth generating. rewardkit calls a response degenerate when any enabled rule holds:

    empty       it has no letter or digit (blank, only punctuation, only whitespace or symbols)
    repetitive  it has at least `min_ngrams` word n-grams (`ngram`, default 3) and at least `max_repeat_share`
                of them repeat an earlier n-gram of the response (the repetition metric's rate), e.g. a
                phrase or sentence generated over and over; 0 (or null) turns the rule off
    unfinished  (off unless `unfinished_words` is set) it has more than `unfinished_words` words and does not end
                with a sentence end (`.`, `!`, `?`, `…`, optionally followed by closing quotes / brackets, or a
                closing code fence): a long answer cut off mid-sentence by the generation limit. Short answers
                ("Paris", "42") are never unfinished.

Words are runs of letters / digits (`metrics.TOKEN_RE`), as the repetition metric counts them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rewardkit.rewards.metrics import TOKEN_RE, repeated_ngram_ends

FINISHED_RE = re.compile(r"(?:[.!?…][\"'”’)\]]*|```)\s*$")
RULES = ("empty", "repetitive", "unfinished")


@dataclass(frozen=True)
class DegenerateConfig:
    """Which responses count as degenerate (module docstring)."""

    empty: bool = True
    max_repeat_share: float | None = 0.5
    ngram: int = 3
    min_ngrams: int = 4
    unfinished_words: int | None = None

    def __post_init__(self) -> None:
        if self.max_repeat_share is not None and not 0.0 <= self.max_repeat_share <= 1.0:
            raise ValueError(f"degenerate.max_repeat_share must be in [0, 1], got {self.max_repeat_share}")
        if self.ngram < 1 or self.min_ngrams < 1:
            raise ValueError("degenerate.ngram and degenerate.min_ngrams must be >= 1")
        if self.unfinished_words is not None and self.unfinished_words < 0:
            raise ValueError(f"degenerate.unfinished_words must be >= 0, got {self.unfinished_words}")


def degenerate_reason(text: str, config: DegenerateConfig = DegenerateConfig()) -> str | None:
    """The first rule (of RULES) that makes `text` degenerate, or None."""
    words = TOKEN_RE.findall(text)
    if config.empty and not words:
        return "empty"
    if config.max_repeat_share:
        repeats, total = repeated_ngram_ends(text, config.ngram)
        if total >= config.min_ngrams and len(repeats) >= config.max_repeat_share * total:
            return "repetitive"
    if config.unfinished_words is not None and len(words) > config.unfinished_words and not FINISHED_RE.search(text):
        return "unfinished"
    return None


def degenerate_mask(responses: Sequence[str], config: DegenerateConfig = DegenerateConfig()) -> np.ndarray:
    """True for every degenerate response."""
    return np.asarray([degenerate_reason(r, config) is not None for r in responses], dtype=bool)
