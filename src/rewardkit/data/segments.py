"""Segments of a response and their labels: what a segment-level (fine-grained) reward model judges.

A *segment* is a character span of the response; a segment model reads its reward head at the segment's last
token. Three granularities, as in Wu et al. 2023 ("Fine-Grained Human Feedback Gives Better Rewards for
Language Model Training", FineGrainedRLHF `fgrlhf/reward_utils.py`):

  sentence     sentences. FineGrainedRLHF uses spaCy's `en_core_web_sm` parser; rewardkit has no spaCy model
               offline and uses a rule instead (`split_sentences`): a sentence ends after `.`, `!` or `?`
               (and any closing quotes / brackets) when whitespace and then an upper-case letter, a digit or
               an opening quote / bracket follow, unless the word ending in `.` is a known abbreviation
               (Mr., St., Jan., ...), a single-letter initial (J. K. Rowling) or a dotted acronym (U.S.);
               a blank line always ends a sentence.
  subsentence  FineGrainedRLHF's rule inside each sentence (`split_subsentences`): words are the sentence's
               whitespace-separated tokens; a word whose last character is one of `, ; ! ?` ends a
               sub-sentence when at least 6 words follow it; a piece shorter than 5 words is not cut off on
               its own: the first piece of a sentence grows until it has 5 words, a later short piece is
               merged with the one before it (the earlier cut is moved to the new one).
  answer       the whole response as one segment (the completeness aspect: one judgement per answer).

Labels (`label_segments`): 1.0 = no error, 0.0 = error, None = not judged (left out of training and of the
metrics). A segment is an error when an error span of the aspect's types shares a non-whitespace character
with it, FineGrainedRLHF's character-level rule. `ignore_types` reproduces its factuality restriction (a
sentence holding a non-factual error and no factual one is not judged), and spans of `short_span_types` under
`min_span_words` words are disregarded (its Appendix D filter on irrelevance / redundancy / incoherence).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardkit.data.record import Message

Span = tuple[int, int]  # [start, end) character offsets
GRANULARITIES = ("sentence", "subsentence", "answer")
MIN_SUBSENTENCE_WORDS = 5  # FineGrainedRLHF's MIN_SUBSENT_WORDS

ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "ft",
        "vs",
        "etc",
        "no",
        "nos",
        "vol",
        "pp",
        "approx",
        "dept",
        "est",
        "inc",
        "ltd",
        "co",
        "corp",
        "bros",
        "gen",
        "gov",
        "sen",
        "rep",
        "rev",
        "capt",
        "lt",
        "col",
        "sgt",
        "maj",
        "cmdr",
        "adm",
        "hon",
        "pres",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "ca",
        "cf",
        "al",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
    ]
)

_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9])""")
_BLANK_LINE = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\S+")
_SUBSENTENCE_END = frozenset(",;!?")


@dataclass
class SegmentExample:
    """A prompt, a response and its labelled segments, for one aspect.

    segments: [start, end) character spans of `response` (non-empty, in order, not overlapping);
    labels: per segment 1.0 (no error), 0.0 (error) or None (not judged); None for unlabelled scoring inputs.
    """

    prompt: list[Message]
    response: str
    segments: list[Span]
    labels: list[float | None] | None = None
    aspect: str = ""
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.segments):
            raise ValueError(f"{len(self.labels)} labels for {len(self.segments)} segments")

    @property
    def judged(self) -> int:
        return sum(label is not None for label in self.labels or [])


def _trim(text: str, start: int, end: int) -> Span | None:
    """[start, end) without surrounding whitespace; None if nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the `.` at index `dot` closes an abbreviation, an initial or a dotted acronym."""
    start = dot
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "\"'“‘([":
        start -= 1
    word = text[start:dot]
    if not word:
        return False
    if len(word) == 1 and word.isalpha():
        return True  # initial: "J. K. Rowling"
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word):
        return True  # dotted acronym: "U.S." (word is "U.S" before the final dot)
    return word.lower() in ABBREVIATIONS


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of `text` (the rule in the module docstring); they cover every non-whitespace character."""
    cuts = {m.end() for m in _BLANK_LINE.finditer(text)}
    for m in _SENTENCE_END.finditer(text):
        first = m.start()
        if text[first] == "." and m.group().count(".") == 1 and _is_abbreviation(text, first):
            continue
        cuts.add(m.end())
    spans, start = [], 0
    for cut in sorted(cuts) + [len(text)]:
        span = _trim(text, start, cut)
        if span:
            spans.append(span)
        start = cut
    return spans


def subsentence_starts(words: Sequence[str], min_words: int = MIN_SUBSENTENCE_WORDS) -> list[int]:
    """Indices of the words that start a sub-sentence, by FineGrainedRLHF's rule (module docstring)."""
    if not words:
        return []
    starts = [0]
    for i in range(1, len(words)):
        if words[i - 1][-1] not in _SUBSENTENCE_END or i + min_words >= len(words):
            continue
        if i - starts[-1] >= min_words:
            starts.append(i)
        elif starts[-1] > 0:
            starts[-1] = i  # the short piece joins the one before it: the earlier cut moves here
    return starts


def split_subsentences(text: str, min_words: int = MIN_SUBSENTENCE_WORDS) -> list[Span]:
    """Sub-sentence spans: each sentence of `split_sentences`, cut by `subsentence_starts`."""
    spans = []
    for s_start, s_end in split_sentences(text):
        words = list(_WORD.finditer(text, s_start, s_end))
        starts = subsentence_starts([w.group() for w in words], min_words)
        for k, first in enumerate(starts):
            last = (starts[k + 1] if k + 1 < len(starts) else len(words)) - 1
            spans.append((words[first].start(), words[last].end()))
    return spans


def split_answer(text: str) -> list[Span]:
    """The whole response (without surrounding whitespace) as one segment; none for a blank response."""
    span = _trim(text, 0, len(text))
    return [span] if span else []


def split_segments(text: str, granularity: str) -> list[Span]:
    """Segments of `text` at a granularity: sentence | subsentence | answer."""
    if granularity == "sentence":
        return split_sentences(text)
    if granularity == "subsentence":
        return split_subsentences(text)
    if granularity == "answer":
        return split_answer(text)
    raise ValueError(f"unknown segment granularity {granularity!r}; known: {', '.join(GRANULARITIES)}")


@dataclass(frozen=True)
class ErrorSpan:
    """An annotated error: [start, end) characters of the response and its type (e.g. "Irrelevant")."""

    start: int
    end: int
    type: str


def _shares_text(text: str, a: Span, b: ErrorSpan) -> bool:
    lo, hi = max(a[0], b.start), min(a[1], b.end)
    return lo < hi and not text[lo:hi].isspace()


def label_segments(
    text: str,
    segments: Sequence[Span],
    errors: Iterable[ErrorSpan],
    error_types: Iterable[str],
    *,
    ignore_types: Iterable[str] = (),
    short_span_types: Iterable[str] = (),
    min_span_words: int = 0,
) -> list[float | None]:
    """Per segment: 0.0 if an error span of `error_types` overlaps it, else None if one of `ignore_types`
    does, else 1.0. Spans of `short_span_types` with fewer than `min_span_words` words are disregarded."""
    wanted, ignored, short = set(error_types), set(ignore_types), set(short_span_types)
    kept = [e for e in errors if not (e.type in short and len(text[e.start : e.end].split()) < min_span_words)]
    labels: list[float | None] = []
    for seg in segments:
        hit = {e.type for e in kept if _shares_text(text, seg, e)}
        labels.append(0.0 if hit & wanted else None if hit & ignored else 1.0)
    return labels
