"""Scoring and evaluating segment-level reward models, and the baselines they are measured against.

`SegmentScorer.score(prompts, responses)` splits each response the way the model was trained (its export
records the granularity and the prompt format) and returns one (character end, value) placement per segment.

Metrics on judged segments (label 1 = no error, 0 = error; the model predicts "error" when its value is <= 0):
accuracy, error-class precision / recall / F1, macro F1 (mean of the two classes' F1; a constant predictor
gets at most ~0.5 of it, unlike error-class F1 when errors are the majority), and AUROC of the value for
"no error" (threshold-free). Baselines, fitted on the training examples only:

  majority        the training set's more frequent label for every segment (AUROC 0.5);
  prompt_overlap  share of the segment's content words (lower-cased, stop words removed) that occur in the
                  prompt: support by the question (relevance) or by the passages (factuality, completeness);
  length          the segment's number of words.

A text-metric baseline predicts "no error" on one side of a threshold; side and threshold are the ones with
the best macro F1 on the training segments.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from rewardkit.data.encoding import EncodingConfig
from rewardkit.data.packing import PackedPairCollator
from rewardkit.data.readers.qa_segments import PromptFormat
from rewardkit.data.record import Message
from rewardkit.data.segment_encoding import EncodedSegments, SegmentCollator, SegmentEncoder
from rewardkit.data.segments import SegmentExample, split_segments
from rewardkit.models.loading import load_tokenizer, read_metadata
from rewardkit.models.reward_model import RewardModel
from rewardkit.models.segment_model import SEGMENT_KIND, load_segment_model

Placements = list[tuple[int, float]]

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "his",
        "her",
        "their",
        "him",
        "them",
        "who",
        "whom",
        "which",
        "what",
        "when",
        "where",
        "why",
        "how",
        "also",
        "not",
        "no",
        "than",
        "then",
        "there",
        "here",
        "into",
        "over",
        "after",
        "before",
        "about",
        "during",
        "while",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "may",
        "might",
        "shall",
        "should",
    ]
)
_TOKEN = re.compile(r"[a-z0-9]+")


# ---- scoring ---------------------------------------------------------------------------------------------


@torch.no_grad()
def score_encoded(
    model: RewardModel,
    encoded: Sequence[EncodedSegments],
    collate: Callable[[list[EncodedSegments]], dict[str, Any]] | None = None,
    *,
    batch_size: int = 16,
    device: torch.device | str | None = None,
    desc: str = "scoring segments",
) -> dict[int, dict[int, float]]:
    """{EncodedSegments.index: {segment id: value}} for every kept segment of `encoded` (one process: a batch
    has a varying number of segments per example, which accelerate's gather_for_metrics cannot de-duplicate)."""
    if not encoded:
        return {}
    collate = collate or SegmentCollator(PackedPairCollator(pad_token_id=0))  # padding is masked: any valid id
    items = sorted(encoded, key=lambda e: e.num_tokens)
    loader = DataLoader(items, batch_size=batch_size, collate_fn=collate)
    device = device or next(model.parameters()).device
    model.eval()
    values: dict[int, dict[int, float]] = {}
    for batch in tqdm(loader, desc=desc, disable=len(loader) < 2, leave=False):
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        rewards = model(**batch, need_rewards=True, need_logps=False)["rewards"]
        for i, k, v in zip(batch["segment_example"].tolist(), batch["segment_ids"].tolist(), rewards.tolist()):
            values.setdefault(i, {})[k] = v
    return values


@dataclass
class SegmentScorer:
    """A segment model with what scoring needs: tokenizer, encoding, segment granularity and prompt format."""

    model: RewardModel
    tokenizer: Any
    encoding: EncodingConfig
    granularity: str
    prompt_format: PromptFormat | None = None  # re-renders QA prompts as in training (None: prompts as given)
    metadata: dict[str, Any] = field(default_factory=dict)

    def encoder(self) -> SegmentEncoder:
        return SegmentEncoder(self.tokenizer, self.encoding)

    def examples(self, prompts: Sequence[list[Message]], responses: Sequence[str]) -> list[SegmentExample]:
        fmt = self.prompt_format
        return [
            SegmentExample(
                prompt=fmt.apply(list(p)) if fmt else list(p), response=r, segments=split_segments(r, self.granularity)
            )
            for p, r in zip(prompts, responses)
        ]

    def score_examples(
        self, examples: Sequence[SegmentExample], *, batch_size: int = 16, collate: Any = None
    ) -> list[list[float | None]]:
        """Per example, the value of each of its segments (None for a segment cut off by truncation)."""
        encoded = self.encoder().encode_all(examples, desc="encoding segments", keep_unjudged=True)
        values = score_encoded(self.model, encoded, collate, batch_size=batch_size)
        return [[values.get(i, {}).get(k) for k in range(len(ex.segments))] for i, ex in enumerate(examples)]

    def score(
        self, prompts: Sequence[list[Message]], responses: Sequence[str], *, batch_size: int = 16
    ) -> list[Placements]:
        """Per response: (character end, value) of every segment the model read, in order."""
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        examples = self.examples(prompts, responses)
        scored = self.score_examples(examples, batch_size=batch_size)
        return [
            [(seg[1], v) for seg, v in zip(ex.segments, vals) if v is not None] for ex, vals in zip(examples, scored)
        ]


def load_segment_scorer(path: str | Path, *, max_length: int | None = None, dtype: str = "float32") -> SegmentScorer:
    """A scorer for a segment-model export (models/segment_model.py)."""
    from rewardkit.models.reward_model import ModelConfig

    meta = read_metadata(path)
    if meta.get("kind") != SEGMENT_KIND:
        raise ValueError(f"{path} is not a rewardkit segment model (rewardkit.json kind: {meta.get('kind')!r})")
    model = load_segment_model(path, ModelConfig(name=str(path), tuning="full", dtype=dtype))
    model.requires_grad_(False)
    fmt = meta.get("prompt_format")
    return SegmentScorer(
        model=model,
        tokenizer=load_tokenizer(str(path)),
        encoding=EncodingConfig(
            max_length=max_length or meta.get("max_length", 1024), use_chat_template=meta.get("use_chat_template", True)
        ),
        granularity=meta["granularity"],
        prompt_format=PromptFormat(**fmt) if fmt else None,
        metadata=meta,
    )


# ---- metrics ----------------------------------------------------------------------------------------------


def auroc(scores: Sequence[float], labels: Sequence[float]) -> float:
    """Probability that a random label-1 item scores above a random label-0 one (ties count 1/2); nan if a
    class is missing (the Mann-Whitney U statistic over n1 * n0)."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan


def classification_metrics(
    predicted_ok: Sequence[bool], labels: Sequence[float], scores: Sequence[float] | None = None
) -> dict[str, float]:
    """Accuracy, error-class precision / recall / F1, macro F1 and (with `scores`) AUROC on judged segments."""
    p, y = np.asarray(predicted_ok, dtype=bool), np.asarray(labels, dtype=float) == 1
    tp_err, fp_err, fn_err = int((~p & ~y).sum()), int((~p & y).sum()), int((p & ~y).sum())
    tp_ok = int((p & y).sum())
    err_f1, ok_f1 = _f1(tp_err, fp_err, fn_err), _f1(tp_ok, fn_err, fp_err)
    out = {
        "segments": int(y.size),
        "error_rate": float((~y).mean()) if y.size else math.nan,
        "accuracy": float((p == y).mean()) if y.size else math.nan,
        "error_precision": tp_err / (tp_err + fp_err) if tp_err + fp_err else math.nan,
        "error_recall": tp_err / (tp_err + fn_err) if tp_err + fn_err else math.nan,
        "error_f1": err_f1,
        "macro_f1": float(np.nanmean([err_f1, ok_f1])) if y.size else math.nan,
        "predicted_error_rate": float((~p).mean()) if y.size else math.nan,
    }
    if scores is not None:
        out["auroc"] = auroc(scores, y.astype(float))
    return out


def judged(
    values: Sequence[Sequence[float | None]], examples: Sequence[SegmentExample]
) -> tuple[list[float], list[float]]:
    """(values, labels) of the judged segments that have a value, flattened."""
    vs, ys = [], []
    for vals, ex in zip(values, examples):
        for v, y in zip(vals, ex.labels or []):
            if v is not None and y is not None:
                vs.append(v)
                ys.append(y)
    return vs, ys


# ---- baselines ----------------------------------------------------------------------------------------------


def content_words(text: str) -> list[str]:
    return [w for w in _TOKEN.findall(text.lower()) if w not in STOP_WORDS]


def prompt_overlap(example: SegmentExample) -> list[float]:
    """Per segment: share of its content words found in the prompt (0.0 for a segment without any)."""
    prompt = set(content_words(" ".join(m["content"] for m in example.prompt)))
    out = []
    for start, end in example.segments:
        words = content_words(example.response[start:end])
        out.append(sum(w in prompt for w in words) / len(words) if words else 0.0)
    return out


def segment_length(example: SegmentExample) -> list[float]:
    return [float(len(example.response[s:e].split())) for s, e in example.segments]


TEXT_METRICS: dict[str, Callable[[SegmentExample], list[float]]] = {
    "prompt_overlap": prompt_overlap,
    "length": segment_length,
}


@dataclass(frozen=True)
class ThresholdRule:
    """Predict "no error" when sign * value > threshold (sign +1: high values are fine, -1: low values are)."""

    threshold: float
    sign: float

    def predict(self, values: Sequence[float]) -> list[bool]:
        return [self.sign * v > self.threshold for v in values]

    @classmethod
    def fit(cls, values: Sequence[float], labels: Sequence[float]) -> ThresholdRule:
        """The side and threshold (midpoints between distinct values) of best macro F1 on (values, labels)."""
        best, best_f1 = cls(-math.inf, 1.0), -1.0
        for sign in (1.0, -1.0):
            signed = sorted({sign * v for v in values})
            cuts = [-math.inf, math.inf] + [(a + b) / 2 for a, b in zip(signed, signed[1:])]
            for cut in cuts:
                rule = cls(cut, sign)
                f1 = classification_metrics(rule.predict(values), labels)["macro_f1"]
                if f1 > best_f1:
                    best, best_f1 = rule, f1
        return best


def baseline_metrics(train: Sequence[SegmentExample], test: Sequence[SegmentExample]) -> dict[str, dict[str, Any]]:
    """Majority and text-metric baselines, fitted on `train`, measured on the judged segments of `test`."""
    train_labels = [y for ex in train for y in ex.labels or [] if y is not None]
    majority_ok = sum(train_labels) >= len(train_labels) / 2
    test_labels = [y for ex in test for y in ex.labels or [] if y is not None]
    out: dict[str, dict[str, Any]] = {
        "majority": {
            **classification_metrics([majority_ok] * len(test_labels), test_labels, [0.0] * len(test_labels)),
            "predicts": "ok" if majority_ok else "error",
        }
    }
    for name, metric in TEXT_METRICS.items():
        fit_v, fit_y = judged([metric(ex) for ex in train], train)
        rule = ThresholdRule.fit(fit_v, fit_y)
        vs, ys = judged([metric(ex) for ex in test], test)
        out[name] = {
            **classification_metrics(rule.predict(vs), ys, [rule.sign * v for v in vs]),
            "threshold": rule.threshold,
            "sign": rule.sign,
        }
    return out
