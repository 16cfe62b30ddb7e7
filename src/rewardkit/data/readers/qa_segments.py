"""QA-Feedback (Wu et al. 2023) as segment-labelled examples per aspect, preference pairs and best-of-4 candidates,
on one split by question.

Only `prediction 1` of each record carries fine-grained feedback: error spans with character offsets
(`feedback.errors`: Irrelevant, Redundant, Incoherent, Wrong-Grounding, Unverifiable) and missing information
(`feedback.missing-info`: Missing-Answer, Missing-Major-Auxiliary, Missing-Minor-Auxiliary). The aspects follow
FineGrainedRLHF (`tasks/qa_feedback/reward_modeling/create_rel_fact_rm_files.py`):

  relevance     sub-sentences; error = Irrelevant / Redundant / Incoherent (the paper's "irrelevance,
                repetition, or incoherence" model); spans under 5 words disregarded; prompt: the question only
                (FineGrainedRLHF trains this model with `--ignore_context`).
  factuality    sentences; error = Wrong-Grounding (the paper's "inconsistent fact") / Unverifiable; a sentence
                with only a non-factual error is not judged; prompt: question and passages.
  completeness  the whole answer; error = the annotators marked missing information of type Missing-Answer or
                Missing-Major-Auxiliary (minor auxiliary information does not count, as FineGrainedRLHF's
                coverage score discounts it); prompt: question and passages. FineGrainedRLHF instead trains a
                pairwise completeness RM on preferences it derives from passage coverage; the missing-info
                label is the direct whole-answer reading of the same annotation.

The split: the `test_questions` questions with the smallest sha256(f"{seed}:{question}") are the test split,
the rest train (on dev_feedback.json: 400 / 100). It depends only on the question text, so every aspect, the
preference pairs and the candidates of a question are on the same side, whatever the file order.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardkit.data.io import iter_records, short_name
from rewardkit.data.readers.base import RecordContext, require, require_str, user_prompt
from rewardkit.data.readers.qa_feedback import PAIRS, format_passages, read_qa_feedback
from rewardkit.data.record import DataError, Message, PreferencePair
from rewardkit.data.segments import ErrorSpan, SegmentExample, label_segments, split_segments

log = logging.getLogger("rewardkit.data")

NON_FACTUAL = ("Irrelevant", "Redundant", "Incoherent")
FACTUAL = ("Wrong-Grounding", "Unverifiable")
MAJOR_MISSING = ("Missing-Answer", "Missing-Major-Auxiliary")
MIN_SPAN_WORDS = 5  # FineGrainedRLHF --min_span_len (its Appendix D)
SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class AspectSpec:
    """How one aspect reads the feedback: granularity, error types and the prompt it sees by default."""

    granularity: str
    error_types: tuple[str, ...] = ()
    ignore_types: tuple[str, ...] = ()
    passages: bool = True


ASPECTS: dict[str, AspectSpec] = {
    "relevance": AspectSpec("subsentence", NON_FACTUAL, passages=False),
    "factuality": AspectSpec("sentence", FACTUAL, ignore_types=NON_FACTUAL),
    "completeness": AspectSpec("answer", MAJOR_MISSING),
}


def aspect_spec(name: str) -> AspectSpec:
    try:
        return ASPECTS[name]
    except KeyError:
        raise ValueError(f"unknown QA-Feedback aspect {name!r}; known: {', '.join(ASPECTS)}") from None


# ---- prompts -------------------------------------------------------------------------------------------

_QUESTION, _PASSAGES = "Question: ", "\n\nPassages:\n\n"
_WORD_END = re.compile(r"\S+")


def truncate_words(text: str, max_words: int | None) -> str:
    """The first `max_words` whitespace-separated words of `text`, its layout kept."""
    if max_words is None:
        return text
    ends = [m.end() for m in _WORD_END.finditer(text)]
    return text if len(ends) <= max_words else text[: ends[max_words - 1]] if max_words else ""


@dataclass(frozen=True)
class PromptFormat:
    """The user turn a QA model sees: "Question: q" and, with `passages`, "\\n\\nPassages:\\n\\n[1] Title\\n..."
    (the layout of the `qa_feedback` pair reader), the passages cut to `max_passage_words` words."""

    passages: bool = True
    max_passage_words: int | None = None

    def text(self, question: str, passages: str) -> str:
        passages = truncate_words(passages, self.max_passage_words) if self.passages else ""
        return f"{_QUESTION}{question}{_PASSAGES}{passages}" if passages else f"{_QUESTION}{question}"

    def messages(self, question: str, passages: str) -> list[Message]:
        return user_prompt(self.text(question, passages))

    def apply(self, prompt: list[Message]) -> list[Message]:
        """Re-render a QA prompt (one user turn in the layout above) in this format; other prompts unchanged."""
        parts = parse_qa_prompt(prompt)
        return prompt if parts is None else self.messages(*parts)

    def to_dict(self) -> dict[str, Any]:
        return {"passages": self.passages, "max_passage_words": self.max_passage_words}


def parse_qa_prompt(prompt: Sequence[Message]) -> tuple[str, str] | None:
    """(question, passages text) of a one-turn QA prompt in PromptFormat's layout, else None."""
    if len(prompt) != 1 or prompt[0].get("role") != "user" or not prompt[0]["content"].startswith(_QUESTION):
        return None
    body = prompt[0]["content"][len(_QUESTION) :]
    question, _, passages = body.partition(_PASSAGES)
    return question, passages


# ---- records -------------------------------------------------------------------------------------------


@dataclass
class QARecord:
    """One parsed QA-Feedback record."""

    index: int
    question: str
    passages: str  # formatted by qa_feedback.format_passages
    predictions: list[str]  # prediction 1..4
    errors: list[ErrorSpan]  # on prediction 1
    missing: list[str]  # missing-info types of prediction 1
    preference: list[int]  # labels of PAIRS (1: first better, 2: second, 0: none)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def _feedback(record: dict[str, Any], prediction: str, ctx: RecordContext) -> tuple[list[ErrorSpan], list[str]]:
    feedback = require(record, "feedback", ctx)
    if not isinstance(feedback, dict):
        raise ctx.error(f"expected a mapping, got {type(feedback).__name__}", "feedback")
    errors = []
    for j, e in enumerate(feedback.get("errors") or []):
        where = f"feedback.errors[{j}]"
        if not isinstance(e, dict) or not {"start", "end", "error type"} <= set(e):
            raise ctx.error("expected a mapping with 'start', 'end' and 'error type'", where)
        start, end, kind = e["start"], e["end"], e["error type"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(prediction)):
            raise ctx.error(f"span [{start}, {end}) is not inside 'prediction 1' ({len(prediction)} characters)", where)
        if not isinstance(kind, str):
            raise ctx.error(f"'error type' must be a string, got {kind!r}", where)
        errors.append(ErrorSpan(start, end, kind))
    missing = []
    for j, m in enumerate(feedback.get("missing-info") or []):
        if not isinstance(m, dict) or not isinstance(m.get("error type"), str):
            raise ctx.error("expected a mapping with a string 'error type'", f"feedback.missing-info[{j}]")
        missing.append(m["error type"])
    return errors, missing


def parse_record(record: dict[str, Any], ctx: RecordContext) -> QARecord:
    """A raw dev_feedback.json record → QARecord; DataError names the file, record and field."""
    predictions = [require_str(record, f"prediction {k}", ctx) for k in range(1, 5)]
    errors, missing = _feedback(record, predictions[0], ctx)
    pairs = [p for p in read_qa_feedback(record, ctx) if isinstance(p, PreferencePair)]  # validates preference
    labels = [0] * len(PAIRS)
    for pair in pairs:
        labels[PAIRS.index(tuple(int(k) for k in pair.meta["pair"].split("v")))] = pair.meta["label"]
    return QARecord(
        index=ctx.index,
        question=require_str(record, "question", ctx).strip(),
        passages=format_passages(record.get("passages") or [], ctx),
        predictions=predictions,
        errors=errors,
        missing=missing,
        preference=labels,
        raw=record,
    )


def question_split(questions: Sequence[str], test_questions: int, seed: int = 0) -> set[str]:
    """The test questions: the `test_questions` distinct questions of smallest sha256(f"{seed}:{question}")."""
    distinct = sorted(set(questions), key=lambda q: hashlib.sha256(f"{seed}:{q}".encode()).hexdigest())
    if test_questions >= len(distinct) and distinct:
        raise ValueError(f"test_questions={test_questions} leaves no training question of {len(distinct)}")
    return set(distinct[:test_questions])


def load_qa_records(
    path: str | Path, split: str = "all", *, test_questions: int = 100, seed: int = 0, limit: int | None = None
) -> list[QARecord]:
    """Parsed records of one side of the question split ("train", "test" or "all"); `limit` keeps the first N."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    ctx = RecordContext(path=str(path), source=short_name(path))
    records = []
    for index, raw in enumerate(iter_records(path)):
        ctx.index = index
        records.append(parse_record(raw, ctx))
    if not records:
        raise DataError("no records", source=str(path))
    if split != "all":
        test = question_split([r.question for r in records], test_questions, seed)
        records = [r for r in records if (r.question in test) == (split == "test")]
    return records[:limit] if limit is not None else records


# ---- what the models train on --------------------------------------------------------------------------


def segment_example(
    record: QARecord, aspect: str, prompt: PromptFormat | None = None, source: str | None = None
) -> SegmentExample:
    """Prediction 1 of a record, segmented and labelled for `aspect` (module docstring)."""
    spec = aspect_spec(aspect)
    prompt = prompt or PromptFormat(passages=spec.passages)
    text = record.predictions[0]
    segments = split_segments(text, spec.granularity)
    if spec.granularity == "answer":
        labels: list[float | None] = [0.0 if set(record.missing) & set(spec.error_types) else 1.0] * len(segments)
    else:
        labels = label_segments(
            text,
            segments,
            record.errors,
            spec.error_types,
            ignore_types=spec.ignore_types,
            short_span_types=NON_FACTUAL,
            min_span_words=MIN_SPAN_WORDS,
        )
    return SegmentExample(
        prompt=prompt.messages(record.question, record.passages),
        response=text,
        segments=segments,
        labels=labels,
        aspect=aspect,
        source=source,
        meta={"record": record.index, "question": record.question},
    )


def segment_examples(
    records: Sequence[QARecord],
    aspect: str,
    prompt: PromptFormat | None = None,
    source: str | None = None,
    keep_unjudged: bool = False,
) -> list[SegmentExample]:
    """Examples with at least one judged segment (others are dropped with a logged count, unless
    `keep_unjudged`: then every non-blank prediction, e.g. so that all aspects have the same token sequences)."""
    if not records:
        return []
    out, skipped = [], Counter()
    for record in records:
        example = segment_example(record, aspect, prompt, source)
        if not example.segments:
            skipped["blank prediction 1"] += 1
        elif not example.judged and not keep_unjudged:
            skipped["no judged segment"] += 1
        else:
            out.append(example)
    labels = Counter(label for ex in out for label in ex.labels or [])
    log.info(
        "qa-feedback %s: %d examples, segments: %d ok, %d error, %d not judged%s",
        aspect,
        len(out),
        labels[1.0],
        labels[0.0],
        labels[None],
        f" (dropped {dict(skipped)})" if skipped else "",
    )
    return out


def preference_pairs(records: Sequence[QARecord], prompt: PromptFormat | None = None) -> list[PreferencePair]:
    """The records' preference pairs (the `qa_feedback` reader: label 0 dropped) with prompts in `prompt`."""
    prompt = prompt or PromptFormat()
    pairs = []
    for record in records:
        ctx = RecordContext(path="qa-feedback", source="qa-feedback", index=record.index)
        for pair in read_qa_feedback(record.raw, ctx):
            if isinstance(pair, PreferencePair):
                pair.prompt = prompt.messages(record.question, record.passages)
                pairs.append(pair)
    return pairs


@dataclass
class CandidateSet:
    """One question's prompt, its 4 predictions (best-of-4 candidates) and its 6 pairwise labels."""

    prompt: list[Message]
    candidates: list[str]
    preference: list[int]
    meta: dict[str, Any] = field(default_factory=dict)


def candidate_sets(records: Sequence[QARecord], prompt: PromptFormat | None = None) -> list[CandidateSet]:
    prompt = prompt or PromptFormat()
    return [
        CandidateSet(
            prompt.messages(r.question, r.passages),
            list(r.predictions),
            list(r.preference),
            {"record": r.index, "question": r.question},
        )
        for r in records
    ]
