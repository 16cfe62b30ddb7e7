"""Segment examples → token ids and the positions where a segment model reads its head.

An example is encoded like a scored response (data/encoding.py: the conversation rendered whole with the chat
template, the response ids being the render's tail after the prompt, the same truncation) plus, per segment, the
index in the response ids of the token holding the segment's last character: the segment's reward is read there,
after the model has seen the whole segment (and nothing after it). Segments cut off by truncation are dropped and
counted.

To ride on the pair machinery unchanged (token-budget batches, shared-prefix packing, the frozen-trunk cache
and its self-check), an example travels as an `EncodedSegments`: an EncodedPair whose chosen and rejected are
the same response. The packed layout stores such a pair once plus one duplicate last token (the shared prefix is
capped one token short of the end), and `SegmentCollator` replaces the batch's `reward_positions` by the
segment positions, found from each sequence's first token (its last token's position minus its length).
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from rewardkit.data.char_budget import bound_prompt, bound_response
from rewardkit.data.encoding import EncodedPair, EncodingConfig, PairEncoder
from rewardkit.data.record import Message
from rewardkit.data.segments import SegmentExample

log = logging.getLogger("rewardkit.data")

IGNORE = -1.0  # label of a segment that is read but not judged (no loss, no metric)


@dataclass
class EncodedSegments(EncodedPair):
    """An encoded example: prompt ids, response ids (as both chosen and rejected), and per kept segment its
    end token (index into the response ids), label (IGNORE when not judged) and number in the example."""

    segment_ends: list[int] = field(default_factory=list)
    segment_labels: list[float] = field(default_factory=list)
    segment_ids: list[int] = field(default_factory=list)  # index of each kept segment in the example's list


def token_ends(offsets: Sequence[tuple[int, int]]) -> list[int]:
    """Character end offset of each token (non-decreasing, for bisect)."""
    ends, last = [], 0
    for _, end in offsets:
        last = max(last, end)
        ends.append(last)
    return ends


def end_token(ends: Sequence[int], char_end: int) -> int:
    """Index of the token holding character `char_end - 1`: the first token ending at or after `char_end`."""
    return min(bisect.bisect_left(ends, char_end), len(ends) - 1)


class SegmentEncoder:
    """Encodes SegmentExamples with a fast tokenizer (offsets are needed); counts what truncation dropped."""

    def __init__(self, tokenizer: Any, config: EncodingConfig | None = None):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("segment models need a fast tokenizer (character offsets of tokens)")
        self.pairs = PairEncoder(tokenizer, config)
        self.tokenizer = tokenizer
        self.stats: Counter[str] = Counter()

    @property
    def config(self) -> EncodingConfig:
        return self.pairs.config

    def response_offsets(self, prompt: list[Message], response: str, response_ids: list[int]) -> list[int]:
        """For each of `response_ids` (the conversation render's tail after the prompt, data/encoding.py), the
        character end of the token inside `response` (0 or less: template text before it; past its length: the
        closing template tokens). Found from the offsets of the whole render's tokens."""
        renderer = self.pairs.renderer
        prompt, response = bound_prompt(prompt, renderer.max_chars), bound_response(response, renderer.max_chars)
        whole = renderer.conversation_text(prompt, response)
        if renderer.legacy:
            raise ValueError("segment models read the conversation's render (reward_position conversation_end)")
        tail = response + renderer.response_closing
        start = len(whole) - len(tail) if whole.endswith(tail) else whole.rfind(response)
        enc = self.tokenizer(whole, add_special_tokens=False, return_offsets_mapping=True)
        n = len(response_ids)
        if list(enc["input_ids"][len(enc["input_ids"]) - n :]) != list(response_ids[:n]):
            raise ValueError(
                "segment encoding: the response's tokens differ between the conversation's render and "
                "its encoding (a chat template that renders the last turn differently?)"
            )
        return [e - start for e in token_ends(enc["offset_mapping"])[len(enc["input_ids"]) - n :]]

    def encode(self, example: SegmentExample, index: int = 0) -> EncodedSegments:
        prompt, (response,) = self.pairs.fit(example.prompt, [example.response])
        ends = self.response_offsets(example.prompt, example.response, response)
        budget = self.config.max_length - len(prompt)
        if len(response) > budget:
            self.stats["response_truncated"] += 1
        tail = self.pairs.renderer.tail_length(response)
        response = self.pairs.cut_response(response, budget)
        readable = len(response) - tail  # the closing template tokens hold no segment
        labels = example.labels or [None] * len(example.segments)
        seg_ends, seg_labels, seg_ids = [], [], []
        for k, ((_, char_end), label) in enumerate(zip(example.segments, labels)):
            t = end_token(ends, char_end) if ends else -1
            if not 0 <= t < readable:  # cut off by truncation
                self.stats["segments_truncated"] += 1
                continue
            seg_ends.append(t)
            seg_labels.append(IGNORE if label is None else float(label))
            seg_ids.append(k)
        return EncodedSegments(
            prompt,
            response,
            list(response),
            index=index,
            segment_ends=seg_ends,
            segment_labels=seg_labels,
            segment_ids=seg_ids,
        )

    def encode_all(
        self, examples: Sequence[SegmentExample], desc: str = "encoding segments", keep_unjudged: bool = False
    ) -> list[EncodedSegments]:
        """Encode examples; without `keep_unjudged`, those left with no judged segment are dropped (counted)."""
        self.stats.clear()
        out = []
        for i, ex in enumerate(tqdm(examples, desc=desc, disable=len(examples) < 2000, leave=False)):
            enc = self.encode(ex, index=i)
            if not enc.segment_ends or (not keep_unjudged and all(v == IGNORE for v in enc.segment_labels)):
                self.stats["examples_without_segments"] += 1
                continue
            out.append(enc)
        if self.stats:
            log.info(
                "encoded %d segment examples at max_length=%d (%s)",
                len(examples),
                self.config.max_length,
                ", ".join(f"{k}: {v}" for k, v in sorted(self.stats.items())),
            )
        return out


class SegmentCollator:
    """Wraps a pair collator (packed, padded or with trunk states): its batch of EncodedSegments gets
    `reward_positions` = one flat position per kept segment, `segment_labels`, `segment_example` (the
    EncodedSegments.index of each segment's example) and `segment_ids`; the pair-only index keys are dropped."""

    def __init__(self, pair_collate: Callable[[list[EncodedPair]], dict[str, Any]]):
        self.pair_collate = pair_collate

    def __call__(self, features: list[EncodedSegments]) -> dict[str, Any]:
        batch = self.pair_collate(features)
        eos = batch["reward_positions"][: len(features)].tolist()  # last token of each example's sequence
        positions: list[int] = []
        labels: list[float] = []
        owners: list[int] = []
        ids: list[int] = []
        for f, last in zip(features, eos):
            first = last - (len(f.prompt_ids) + len(f.chosen_ids) - 1)  # flat position of the sequence's token 0
            positions.extend(first + len(f.prompt_ids) + t for t in f.segment_ends)
            labels.extend(f.segment_labels)
            owners.extend([f.index] * len(f.segment_ends))
            ids.extend(f.segment_ids)
        for key in ("logp_positions", "logp_targets", "logp_seq"):
            batch.pop(key, None)
        batch["reward_positions"] = torch.tensor(positions, dtype=torch.long)
        batch["segment_labels"] = torch.tensor(labels, dtype=torch.float32)
        batch["segment_example"] = torch.tensor(owners, dtype=torch.long)
        batch["segment_ids"] = torch.tensor(ids, dtype=torch.long)
        return batch
