"""Score (prompt, response) items with a reward model.

Input: JSON lines from a file or stdin, each {"prompt": str | messages, "response": str} or
{"messages": [..., {"role": "assistant", ...}]} (the last assistant turn is the response).
Output: the same records with "reward" (and "implicit_reward" for policy models), as JSON lines. A segment-level
model (`rewardkit train-segments`) adds "segments": [{"end": character offset, "reward": value}, ...] per
response, and "reward" is their sum.

  echo '{"prompt": "What is 2+2?", "response": "4"}' | rewardkit score --model runs/quickstart/export
"""

from __future__ import annotations

import argparse
import sys

from rewardkit.data.score_items import parse_item, read_records
from rewardkit.files import dump_jsonl, write_jsonl_atomic

HELP = "score prompt/response pairs from a file or stdin"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint dir, alias or hub id")
    parser.add_argument("--input", default="-", help="JSON lines file (default: stdin)")
    parser.add_argument("--output", default="-", help="JSON lines file (default: stdout)")
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--reference", default=None, help="reference policy for implicit rewards")


def run(args: argparse.Namespace) -> int:
    from rewardkit.evaluation.evaluate import load_scorer
    from rewardkit.models.segment_model import is_segment_model

    lines, source = read_records(args.input)
    items = [parse_item(r, i, source) for i, r in lines]  # errors name the line index, blank lines included
    records = [r for _, r in lines]
    if is_segment_model(args.model):
        from rewardkit.evaluation.segments import load_segment_scorer

        segment_scorer = load_segment_scorer(args.model, max_length=args.max_length)
        rows = segment_scorer.score([p for p, _ in items], [r for _, r in items], batch_size=args.batch_size)
        for record, row in zip(records, rows):
            record["segments"] = [{"end": end, "reward": value} for end, value in row]
            record["reward"] = sum(value for _, value in row)
        items = []
    scorer = load_scorer(args.model, max_length=args.max_length, reference=args.reference) if items else None
    scores = scorer.score([p for p, _ in items], [r for _, r in items], batch_size=args.batch_size) if items else {}
    for i, record in enumerate(records):
        if "rewards" in scores:
            record["reward"] = scores["rewards"][i].item()
        if "implicit" in scores:
            record["implicit_reward"] = scores["implicit"][i].item()
    if args.output == "-":
        dump_jsonl(sys.stdout, records)
    else:
        write_jsonl_atomic(args.output, records)
    return 0

