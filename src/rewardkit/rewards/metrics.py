"""Offline metric aspects: length, readability, repetition, language confidence, spelling errors.

Each is a reward component (higher is better, except `length`, whose direction is the weight's sign):

    length       words (or characters) in the response
    readability  Flesch reading ease (textstat), clipped to [0, 100]
    repetition   token-level: minus the share of word n-grams that repeat an earlier one; every repeated n-gram
                 puts -1/num_ngrams on its last word
    language     lingua's confidence in [0, 1] that the response is in the target language (a fixed code, or
                 the item's meta[meta_key], e.g. the suite's language family)
    spelling     token-level: minus the share of words pyspellchecker does not know; every unknown word puts
                 -1/num_words on itself

Per-sentence (dense) aspects put a value on *every* sentence, at its end, as ALaRM's fine-grained aspect models
do; higher is better, so offset-0 sigmoid shaping makes each sentence a bounded bonus in (0, 1) (with
`normalize: true` each sentence value is z-normalised on its own, over the sentences of the calibration samples):

    sentence_readability  Flesch reading ease of the sentence, clipped to [0, 100], divided by 100
    sentence_spelling     share of the sentence's words pyspellchecker knows (1.0 without words)
    sentence_repetition   share of the word n-grams ending in the sentence that repeat no earlier n-gram of the
                          response (1.0 when none ends in it)

Each value is in [0, 1]. A sentence ends after `.`, `!`, `?` or `…` (and closing quotes / brackets) followed by
whitespace or the end, and at every line break; text after the last end is a sentence too. Spans without a
letter or digit are not sentences. The score of a per-sentence aspect is the sum of its sentence values.

textstat (0.7.8: later versions download NLTK data at run time), lingua-language-detector and pyspellchecker
work offline: their models and dictionaries ship in the wheels. They are imported on first use.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rewardkit.rewards.base import Messages, Placements, check_batch

WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")  # letters, with inner apostrophes ("don't")
TOKEN_RE = re.compile(r"[^\W_]+")  # letters and digits, for n-grams
SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|\n")


def words_with_ends(text: str, pattern: re.Pattern[str] = WORD_RE) -> list[tuple[str, int]]:
    """(lower-cased word, character end offset) of every word in `text`."""
    return [(m.group(0).lower(), m.end()) for m in pattern.finditer(text)]


def repeated_ngram_ends(text: str, n: int) -> tuple[list[int], int]:
    """End offsets of the n-grams that repeat an earlier one, and the number of n-grams."""
    words = words_with_ends(text, TOKEN_RE)
    total = max(len(words) - n + 1, 0)
    seen: set[tuple[str, ...]] = set()
    repeats = []
    for i in range(total):
        gram = tuple(w for w, _ in words[i : i + n])
        if gram in seen:
            repeats.append(words[i + n - 1][1])
        seen.add(gram)
    return repeats, total


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence of `text` (module docstring), end after its final punctuation."""
    spans = []
    start = 0
    for cut in [m.end() for m in SENTENCE_END_RE.finditer(text)] + [len(text)]:
        piece = text[start:cut]
        if TOKEN_RE.search(piece):
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        start = cut
    return spans


@dataclass
class LengthMetric:
    """Length of the response in words (unit "words") or characters (unit "chars")."""

    name: str = "length"
    unit: str = "words"

    def __post_init__(self) -> None:
        if self.unit not in ("words", "chars"):
            raise ValueError(f"length unit must be 'words' or 'chars', got {self.unit!r}")

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        check_batch(prompts, responses, metas, self.name)
        if self.unit == "chars":
            return [float(len(r)) for r in responses]
        return [float(len(WORD_RE.findall(r))) for r in responses]


@dataclass
class ReadabilityMetric:
    """Flesch reading ease (textstat), clipped to [low, high]; 0 for a response without words."""

    name: str = "readability"
    low: float = 0.0
    high: float = 100.0

    def __post_init__(self) -> None:
        if self.low >= self.high:
            raise ValueError(f"readability needs low < high, got {self.low} and {self.high}")

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        check_batch(prompts, responses, metas, self.name)
        textstat = _textstat()
        out = []
        for r in responses:
            value = float(textstat.flesch_reading_ease(r)) if WORD_RE.search(r) else 0.0
            out.append(min(self.high, max(self.low, value)))
        return out


@dataclass
class RepetitionMetric:
    """Minus the repeat rate of word n-grams; token-level (each repeated n-gram on its last word)."""

    name: str = "repetition"
    n: int = 3

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"repetition n must be >= 1, got {self.n}")

    def placements(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[Placements]:
        check_batch(prompts, responses, metas, self.name)
        out = []
        for r in responses:
            ends, total = repeated_ngram_ends(r, self.n)
            out.append([(end, -1.0 / total) for end in ends])
        return out

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        return [float(sum(v for _, v in p)) for p in self.placements(prompts, responses, metas)]


@dataclass
class LanguageMetric:
    """lingua's confidence that the response is in the target language (ISO 639-1 code).

    The target is `metas[i][meta_key]` when the item has it, else `language`. `languages` are those the
    detector tells apart (the targets are added to it).
    """

    name: str = "language"
    language: str = "en"
    meta_key: str | None = "language"
    languages: list[str] = field(default_factory=lambda: ["en", "fr", "es", "de", "it", "pt"])

    def __post_init__(self) -> None:
        for code in [self.language, *self.languages]:
            _lingua_language(code)  # unknown codes fail now, naming the code

    def target(self, meta: dict[str, Any] | None) -> str:
        if meta and self.meta_key and meta.get(self.meta_key):
            return str(meta[self.meta_key])
        return self.language

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        check_batch(prompts, responses, metas, self.name)
        targets = [self.target(metas[i] if metas else None) for i in range(len(responses))]
        detector = _lingua_detector(tuple(sorted(set(self.languages) | set(targets))))
        out = []
        for r, code in zip(responses, targets):
            value = detector.compute_language_confidence(r, _lingua_language(code)) if WORD_RE.search(r) else 0.0
            out.append(float(value))
        return out


@dataclass
class SpellingMetric:
    """Minus the share of words pyspellchecker does not know; token-level (each unknown word on itself)."""

    name: str = "spelling"
    language: str = "en"

    def placements(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[Placements]:
        check_batch(prompts, responses, metas, self.name)
        checker = _spellchecker(self.language)
        out = []
        for r in responses:
            words = words_with_ends(r)
            unknown = checker.unknown([w for w, _ in words]) if words else set()
            out.append([(end, -1.0 / len(words)) for w, end in words if w in unknown])
        return out

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        return [float(sum(v for _, v in p)) for p in self.placements(prompts, responses, metas)]


class SentenceMetric:
    """A dense token-level metric: one value per sentence at its end; `score` is their sum."""

    name: str
    segment_level: ClassVar[bool] = True  # a value on every segment: per-segment normalisation, not penalties

    def sentence_values(self, text: str, spans: list[tuple[int, int]]) -> list[float]:
        raise NotImplementedError

    def placements(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[Placements]:
        check_batch(prompts, responses, metas, self.name)
        out = []
        for r in responses:
            spans = sentence_spans(r)
            out.append([(end, float(v)) for (_, end), v in zip(spans, self.sentence_values(r, spans))])
        return out

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        return [float(sum(v for _, v in p)) for p in self.placements(prompts, responses, metas)]


@dataclass
class SentenceReadabilityMetric(SentenceMetric):
    """Flesch reading ease of every sentence, clipped to [low, high] and mapped to [0, 1]."""

    name: str = "sentence_readability"
    low: float = 0.0
    high: float = 100.0

    def __post_init__(self) -> None:
        if self.low >= self.high:
            raise ValueError(f"sentence_readability needs low < high, got {self.low} and {self.high}")

    def sentence_values(self, text: str, spans: list[tuple[int, int]]) -> list[float]:
        textstat = _textstat()
        values = []
        for start, end in spans:
            piece = text[start:end]
            value = float(textstat.flesch_reading_ease(piece)) if WORD_RE.search(piece) else self.high
            values.append((min(self.high, max(self.low, value)) - self.low) / (self.high - self.low))
        return values


@dataclass
class SentenceSpellingMetric(SentenceMetric):
    """Share of every sentence's words that pyspellchecker knows (1.0 for a sentence without words)."""

    name: str = "sentence_spelling"
    language: str = "en"

    def sentence_values(self, text: str, spans: list[tuple[int, int]]) -> list[float]:
        checker = _spellchecker(self.language)
        values = []
        for start, end in spans:
            words = [w for w, _ in words_with_ends(text[start:end])]
            unknown = checker.unknown(words) if words else set()
            values.append(1.0 - sum(w in unknown for w in words) / len(words) if words else 1.0)
        return values


@dataclass
class SentenceRepetitionMetric(SentenceMetric):
    """Share of the word n-grams ending in every sentence that repeat no earlier n-gram of the response."""

    name: str = "sentence_repetition"
    n: int = 3

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"sentence_repetition n must be >= 1, got {self.n}")

    def sentence_values(self, text: str, spans: list[tuple[int, int]]) -> list[float]:
        words = words_with_ends(text, TOKEN_RE)
        seen: set[tuple[str, ...]] = set()
        ngram_ends: list[tuple[int, bool]] = []  # (end offset of the n-gram, repeats an earlier one)
        for i in range(max(len(words) - self.n + 1, 0)):
            gram = tuple(w for w, _ in words[i : i + self.n])
            ngram_ends.append((words[i + self.n - 1][1], gram in seen))
            seen.add(gram)
        values = []
        for start, end in spans:
            inside = [repeat for at, repeat in ngram_ends if start < at <= end]
            values.append(1.0 - sum(inside) / len(inside) if inside else 1.0)
        return values


METRICS: dict[str, type] = {
    "length": LengthMetric,
    "readability": ReadabilityMetric,
    "repetition": RepetitionMetric,
    "language": LanguageMetric,
    "spelling": SpellingMetric,
    "sentence_readability": SentenceReadabilityMetric,
    "sentence_spelling": SentenceSpellingMetric,
    "sentence_repetition": SentenceRepetitionMetric,
}


def build_metric(metric: str, name: str | None = None, options: dict[str, Any] | None = None) -> Any:
    """A metric component by kind, with its options; unknown kinds or options raise ValueError naming them."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    cls = METRICS[metric]
    options = dict(options or {})
    known = {f.name for f in dataclasses.fields(cls)} - {"name"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"metric {metric}: unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
    return cls(name=name or metric, **options)


# ------------------------------------------------------------------------------------ lazy library access


def _textstat() -> Any:
    try:
        import textstat
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the readability metric needs textstat: pip install 'textstat==0.7.8'") from e
    return textstat


def _lingua_language(code: str) -> Any:
    try:
        from lingua import IsoCode639_1, Language
    except ImportError as e:  # pragma: no cover
        raise ImportError("the language metric needs lingua: pip install lingua-language-detector") from e
    try:
        return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
    except (AttributeError, ValueError):
        raise ValueError(f"language metric: unknown ISO 639-1 language code {code!r}") from None


@functools.lru_cache(maxsize=8)
def _lingua_detector(codes: tuple[str, ...]) -> Any:
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(*[_lingua_language(c) for c in codes]).build()


@functools.lru_cache(maxsize=4)
def _spellchecker(language: str) -> Any:
    try:
        from spellchecker import SpellChecker
    except ImportError as e:  # pragma: no cover
        raise ImportError("the spelling metric needs pyspellchecker: pip install pyspellchecker") from e
    try:
        return SpellChecker(language=language)
    except ValueError as e:
        raise ValueError(f"spelling metric: no dictionary for language {language!r} ({e})") from e
