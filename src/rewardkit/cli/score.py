"""Score (prompt, response) items with a reward model.

Input: JSON lines from a file or stdin, each {"prompt": str | messages, "response": str},
{"messages": [..., {"role": "assistant", ...}]} (the last assistant turn is the response) or {"text": str} (scored
as is, like TRL's string format). The reward is read at the last token of the conversation rendered with the
model's chat template (docs/architecture.md).
Output: the same records with "reward" (and "implicit_reward" for policy models), as JSON lines. A segment-level
model (`rewardkit train-segments`) adds "segments": [{"end": character offset, "reward": value}, ...] per
response, and "reward" is their sum.

  echo '{"prompt": "What is 2+2?", "response": "4"}' | rewardkit score --model runs/quickstart/export
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from rewardkit.data.record import DataError
from rewardkit.data.score_items import parse_item, parse_text_item, read_records
from rewardkit.files import dump_jsonl, write_jsonl_atomic
from rewardkit.finite import NonFiniteError, first_non_finite

HELP = "score prompt/response pairs from a file or stdin"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint dir, alias or hub id")
    parser.add_argument("--input", default="-", help="JSON lines file (default: stdin)")
    parser.add_argument("--output", default="-", help="JSON lines file (default: stdout)")
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="tokens per conversation; longer ones are truncated (default: the model's max length)",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="items per scoring batch (default: 16)")
    parser.add_argument("--reference", default=None, help="reference policy for implicit rewards")


def run(args: argparse.Namespace) -> int:
    from rewardkit.evaluation.evaluate import load_scorer
    from rewardkit.models.segment_model import is_segment_model

    lines, source = read_records(args.input)
    texts = {k: t for k, (i, r) in enumerate(lines) if (t := parse_text_item(r, i, source)) is not None}
    items = {k: parse_item(r, i, source) for k, (i, r) in enumerate(lines) if k not in texts}  # errors name the line
    records = [r for _, r in lines]
    outputs: list[tuple[list[int], str, Any]] = []
    if is_segment_model(args.model):
        from rewardkit.evaluation.segments import load_segment_scorer

        if texts:
            first = lines[next(iter(texts))][0]
            raise DataError(
                'a segment-level model scores (prompt, response) records, not {"text"}',
                source=source,
                index=first,
                field="text",
            )
        segment_scorer = load_segment_scorer(args.model, max_length=args.max_length)
        rows = segment_scorer.score(
            [p for p, _ in items.values()], [r for _, r in items.values()], batch_size=args.batch_size
        )
        for k, row in zip(items, rows):
            records[k]["segments"] = [{"end": end, "reward": value} for end, value in row]
        outputs.append((list(items), "reward", np.array([sum(v for _, v in row) for row in rows], dtype=float)))
        items = {}
    scorer = load_scorer(args.model, max_length=args.max_length, reference=args.reference) if items or texts else None
    scores = (
        scorer.score([p for p, _ in items.values()], [r for _, r in items.values()], batch_size=args.batch_size)
        if items
        else {}
    )
    outputs += [
        (list(items), name, scores[key])
        for key, name in (("rewards", "reward"), ("implicit", "implicit_reward"))
        if key in scores
    ]
    if texts:
        outputs.append((list(texts), "reward", scorer.score_texts(list(texts.values()), batch_size=args.batch_size)))
    for keys, name, values in outputs:
        bad = first_non_finite(values.tolist())
        if bad is not None:  # JSON has no NaN: refuse rather than write invalid (or silently null) output
            raise NonFiniteError(
                f"{source}, record {lines[keys[bad]][0]}: the model's {name} is "
                f"{values[bad].item()} (not finite; is the checkpoint diverged?); nothing written"
            )
    for keys, name, values in outputs:
        for k, value in zip(keys, values.tolist()):
            records[k][name] = value
    if args.output == "-":
        dump_jsonl(sys.stdout, records)
    else:
        write_jsonl_atomic(args.output, records)
    return 0
