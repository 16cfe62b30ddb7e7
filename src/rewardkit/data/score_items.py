"""Items to score, one (prompt, response) each: the input of `rewardkit score`, the server's /score items and
its calibration file. A record is {"prompt": str | messages, "response": str} or {"messages": [...]} whose last
turn is the assistant response (a string prompt is one user turn), or {"text": str}: a text scored as is, at its
last token, as TRL scores its standard (string) format."""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from collections.abc import Iterator
from typing import IO, Any

from rewardkit.data.io import GZIP_MAGIC
from rewardkit.data.record import DataError, check_text, validate_messages


def parse_item(record: Any, index: int, source: str) -> tuple[list[dict[str, str]], str]:
    """(prompt messages, response) of one input record; DataError names the record and field."""
    if not isinstance(record, dict):
        raise DataError("expected a JSON object", source=source, index=index)
    if "messages" in record:
        messages = validate_messages(record["messages"], source=source, index=index, field="messages")
        if messages[-1]["role"] != "assistant":
            raise DataError(
                "the last message must be the assistant response", source=source, index=index, field="messages"
            )
        if len(messages) < 2:
            raise DataError(
                "expected at least one prompt turn before the assistant response",
                source=source,
                index=index,
                field="messages",
            )
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
    return prompt, check_text(record["response"], source=source, index=index, field="response")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (non-finite values are refused)")


def _binary_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines of a byte stream, gunzipped when it starts with the gzip magic bytes (whatever the file is called)."""
    head = stream.peek(2)[:2] if hasattr(stream, "peek") else b""
    if head == GZIP_MAGIC:
        yield from gzip.GzipFile(fileobj=stream)
    else:
        yield from stream


def parse_text_item(record: Any, index: int, source: str) -> str | None:
    """The text of a {"text": str} record; None for a (prompt, response) record."""
    if not isinstance(record, dict) or "text" not in record:
        return None
    text = record["text"]
    if not isinstance(text, str) or not text:
        raise DataError("expected a non-empty string", source=source, index=index, field="text")
    return text


def read_records(path: str) -> tuple[list[tuple[int, Any]], str]:
    """(line index, parsed JSON) of each non-blank line, and the source name used in errors. Plain or gzipped
    UTF-8 JSON lines; bad UTF-8, bad JSON and NaN / Infinity literals are DataErrors naming the line, and an
    input without records is a DataError too."""
    source = "<stdin>" if path == "-" else path
    records = []
    i = 0
    try:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise DataError(f"cannot open: {e.strerror}", source=source) from None
    with stream:
        try:
            for i, raw in enumerate(_binary_lines(stream)):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(
                        f"not UTF-8 text (byte {raw[e.start]:#04x} at position {e.start})", source=source, index=i
                    ) from None
                if not line.strip():
                    continue
                try:
                    records.append((i, json.loads(line, parse_constant=_reject_constant)))
                except json.JSONDecodeError as e:
                    raise DataError(f"invalid JSON ({e.msg})", source=source, index=i) from None
                except ValueError as e:
                    raise DataError(f"invalid JSON ({e})", source=source, index=i) from None
        except (OSError, EOFError, zlib.error) as e:  # corrupt or truncated gzip
            raise DataError(f"cannot read the gzip stream after line {i}: {e}", source=source) from None
    if not records:
        raise DataError("no records: the input is empty (or has only blank lines)", source=source)
    return records, source
