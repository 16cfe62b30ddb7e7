"""Items to score, one (prompt, response) each: the input of `rewardkit score`, the server's /score items and
its calibration file. A record is {"prompt": str | messages, "response": str} or {"messages": [...]} whose last
turn is the assistant response (a string prompt is one user turn), or {"text": str}: a text scored as is, at its
last token, as TRL scores its standard (string) format."""

from __future__ import annotations

import json
import sys
from typing import Any

from rewardkit.data.record import DataError, validate_messages


def parse_item(record: Any, index: int, source: str) -> tuple[list[dict[str, str]], str]:
    """(prompt messages, response) of one input record; DataError names the record and field."""
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


def parse_text_item(record: Any, index: int, source: str) -> str | None:
    """The text of a {"text": str} record; None for a (prompt, response) record."""
    if not isinstance(record, dict) or "text" not in record:
        return None
    text = record["text"]
    if not isinstance(text, str) or not text:
        raise DataError("expected a non-empty string", source=source, index=index, field="text")
    return text


def read_records(path: str) -> tuple[list[tuple[int, Any]], str]:
    """(line index, parsed JSON) of each non-blank line, and the source name used in errors."""
    source = "<stdin>" if path == "-" else path
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    records = []
    with stream:
        for i, line in enumerate(stream):
            if not line.strip():
                continue
            try:
                records.append((i, json.loads(line)))
            except json.JSONDecodeError as e:
                raise DataError(f"invalid JSON ({e.msg})", source=source, index=i) from e
    return records, source
