"""Two responses plus a label: LLMBar and PandaLM (summarize-from-feedback and QA-Feedback have own modules)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from rewardkit.data.readers.base import Item, RecordContext, Skip, int_label, require, require_str, user_prompt
from rewardkit.data.record import PreferencePair

# LLMBar folder -> RewardBench subset name.
LLMBAR_SUBSETS = {
    "Natural": "llmbar-natural",
    "Neighbor": "llmbar-adver-neighbor",
    "GPTInst": "llmbar-adver-GPTInst",
    "GPTOut": "llmbar-adver-GPTOut",
    "Manual": "llmbar-adver-manual",
}


def read_llmbar(record: dict[str, Any], ctx: RecordContext) -> Iterator[Item]:
    """LLMBar `{input, output_1, output_2, label: 1|2}`; subset is the RewardBench name of the folder."""
    text = require_str(record, "input", ctx)
    outs = require_str(record, "output_1", ctx), require_str(record, "output_2", ctx)
    label = int_label(require(record, "label", ctx), (1, 2), "label", ctx)
    yield PreferencePair(
        prompt=user_prompt(text),
        chosen=outs[label - 1],
        rejected=outs[2 - label],
        subset=LLMBAR_SUBSETS.get(ctx.folder() or "", "llmbar"),
        source=ctx.source,
        meta={"label": label},
    )


def _pandalm_response(record: dict[str, Any], key: str, ctx: RecordContext) -> str:
    value = require(record, key, ctx)
    if isinstance(value, bool) and not ctx.strict:
        # The real file has JSON `true` for the answer text "True" (6 responses); keep it as text.
        ctx.note("JSON boolean response read as text")
        return str(value)
    if not isinstance(value, str):
        raise ctx.error(f"expected a string, got {type(value).__name__}", key)
    return value


def read_pandalm(record: dict[str, Any], ctx: RecordContext) -> Iterator[Item]:
    """PandaLM `{instruction, input, response1, response2, annotator1..3}`, labels 0 (tie) / 1 / 2.

    The label is the strict majority of the annotators; no majority, or a majority for "tie", drops the pair.
    strength = share of annotators agreeing with the majority. Empty responses (54 in the real test set) are left
    to the loader, which drops such pairs (or raises when strict=True).
    """
    instruction = require_str(record, "instruction", ctx)
    extra = record.get("input") or ""
    if not isinstance(extra, str):
        raise ctx.error(f"expected a string, got {type(extra).__name__}", "input")
    responses = _pandalm_response(record, "response1", ctx), _pandalm_response(record, "response2", ctx)
    keys = sorted((k for k in record if re.fullmatch(r"annotator\d+", k)), key=lambda k: int(k[9:]))
    if not keys:
        raise ctx.error("missing field (no annotatorN labels)", "annotator1")
    labels = [int_label(record[k], (0, 1, 2), k, ctx) for k in keys]
    ((top, votes),) = Counter(labels).most_common(1)
    if 2 * votes <= len(labels):
        yield Skip("no annotator majority", expected=True)
        return
    if top == 0:
        yield Skip("annotator majority says tie", expected=True)
        return
    chosen, rejected = responses[top - 1], responses[2 - top]
    prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    meta = {"labels": labels, **{k: record[k] for k in ("idx", "cmp_key", "motivation_app") if k in record}}
    yield PreferencePair(
        prompt=user_prompt(prompt),
        chosen=chosen,
        rejected=rejected,
        subset="pandalm",
        source=ctx.source,
        strength=votes / len(labels),
        meta=meta,
    )
