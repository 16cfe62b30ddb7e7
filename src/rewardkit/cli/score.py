"""Score (prompt, response) items with a reward model.

Input: JSON lines from a file or stdin, each {"prompt": str | messages, "response": str} or
{"messages": [..., {"role": "assistant", ...}]} (the last assistant turn is the response).
Output: the same records with "reward" (and "implicit_reward" for policy models), as JSON lines.

  echo '{"prompt": "What is 2+2?", "response": "4"}' | rewardkit score --model runs/quickstart/export
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

HELP = "score prompt/response pairs from a file or stdin"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint dir, alias or hub id")
    parser.add_argument("--input", default="-", help="JSON lines file (default: stdin)")
    parser.add_argument("--output", default="-", help="JSON lines file (default: stdout)")
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--reference", default=None, help="reference policy for implicit rewards")


def parse_item(record: Any, index: int, source: str) -> tuple[list[dict[str, str]], str]:
    """(prompt messages, response) of one input record; DataError names the record and field."""
    from rewardkit.data.record import DataError, validate_messages

    if not isinstance(record, dict):
        raise DataError("expected a JSON object", source=source, index=index)
    if "messages" in record:
        messages = validate_messages(record["messages"], source=source, index=index, field="messages")
        if messages[-1]["role"] != "assistant":
            raise DataError("the last message must be the assistant response", source=source, index=index,
                            field="messages")
        if len(messages) < 2:
            raise DataError("expected at least one prompt turn before the assistant response", source=source,
                            index=index, field="messages")
        return messages[:-1], messages[-1]["content"]
    for key in ("prompt", "response"):
        if key not in record:
            raise DataError("missing field", source=source, index=index, field=key)
    prompt = record["prompt"]
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    prompt = validate_messages(prompt, source=source, index=index, field="prompt")
    if not isinstance(record["response"], str):
        raise DataError("expected a string", source=source, index=index, field="response")
    return prompt, record["response"]


def read_records(path: str) -> tuple[list[dict[str, Any]], str]:
    from rewardkit.data.record import DataError

    source = "<stdin>" if path == "-" else path
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    records = []
    with stream:
        for i, line in enumerate(stream):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"invalid JSON ({e.msg})", source=source, index=i) from e
    return records, source


def run(args: argparse.Namespace) -> int:
    from rewardkit.evaluation.evaluate import load_scorer

    records, source = read_records(args.input)
    items = [parse_item(r, i, source) for i, r in enumerate(records)]
    scorer = load_scorer(args.model, max_length=args.max_length, reference=args.reference)
    scores = scorer.score([p for p, _ in items], [r for _, r in items], batch_size=args.batch_size) if items else {}
    sink = contextlib.nullcontext(sys.stdout) if args.output == "-" else open(args.output, "w", encoding="utf-8")
    with sink as out:
        for i, record in enumerate(records):
            if "rewards" in scores:
                record["reward"] = scores["rewards"][i].item()
            if "implicit" in scores:
                record["implicit_reward"] = scores["implicit"][i].item()
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0

