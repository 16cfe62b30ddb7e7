"""Explicit prompt / chosen / rejected records (TRL "standard" and "conversational" preference formats).

* `prompt` is a string (one user turn) or a message list; `chosen` / `rejected` are strings or message lists.
  A response list is either one assistant message or the prompt followed by one assistant message.
* No `prompt` field and message-list responses (TRL implicit prompt): the prompt is the messages the two lists
  share; what follows must be exactly one assistant message in each, else DataError.
* Scores: `chosen_score`/`rejected_score`, `score_chosen`/`score_rejected`, or inside `metadata` (a dict or
  UltraFeedback's Python-dict text "{'score_chosen': 9.0, 'score_rejected': 8.0}", read with ast.literal_eval).
  `strength` defaults to chosen_score - rejected_score when both exist.
* `subset` defaults to the folder holding the file, `source` to the file's short name; a record's own `subset` /
  `source` (string or null) wins, so `save_pairs` output round-trips. Every other field goes into `meta`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from rewardkit.data.readers.base import Item, RecordContext, require, user_prompt
from rewardkit.data.record import Message, PreferencePair, validate_messages

_FIELDS = {
    "prompt",
    "chosen",
    "rejected",
    "subset",
    "source",
    "margin",
    "aspects",
    "chosen_score",
    "rejected_score",
    "score_chosen",
    "score_rejected",
    "strength",
    "meta",
    "metadata",
}


def _prompt(value: Any, ctx: RecordContext) -> list[Message]:
    if isinstance(value, str):
        return user_prompt(value)
    if isinstance(value, list):
        return validate_messages(value, source=ctx.path, index=ctx.index, field="prompt")
    raise ctx.error(f"expected a string or a list of messages, got {type(value).__name__}", "prompt")


def _one_assistant(rest: list[Message], name: str, ctx: RecordContext, after: str) -> str:
    if len(rest) != 1 or rest[0]["role"] != "assistant":
        roles = [m["role"] for m in rest]
        raise ctx.error(f"expected exactly one assistant message {after}, got {roles}", name)
    return rest[0]["content"]


def _response(value: Any, prompt: list[Message], name: str, ctx: RecordContext) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise ctx.error(f"expected a string or a list of messages, got {type(value).__name__}", name)
    msgs = validate_messages(value, source=ctx.path, index=ctx.index, field=name)
    if len(msgs) > len(prompt) and msgs[: len(prompt)] == prompt:
        msgs = msgs[len(prompt) :]
    return _one_assistant(msgs, name, ctx, "(or the prompt followed by one)")


def _implicit(chosen: Any, rejected: Any, ctx: RecordContext) -> tuple[list[Message], str, str]:
    c = validate_messages(chosen, source=ctx.path, index=ctx.index, field="chosen")
    r = validate_messages(rejected, source=ctx.path, index=ctx.index, field="rejected")
    k = 0
    while k < min(len(c), len(r)) and c[k] == r[k]:
        k += 1
    k = min(k, len(c) - 1, len(r) - 1)
    after = f"after the {k} messages chosen and rejected share"
    return c[:k], _one_assistant(c[k:], "chosen", ctx, after), _one_assistant(r[k:], "rejected", ctx, after)


def _metadata(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def read_explicit(record: dict[str, Any], ctx: RecordContext) -> Iterator[Item]:
    """One explicit record -> one PreferencePair."""
    chosen, rejected = require(record, "chosen", ctx), require(record, "rejected", ctx)
    if "prompt" in record:
        prompt = _prompt(record["prompt"], ctx)
        c, r = _response(chosen, prompt, "chosen", ctx), _response(rejected, prompt, "rejected", ctx)
    elif isinstance(chosen, list) and isinstance(rejected, list):
        prompt, c, r = _implicit(chosen, rejected, ctx)
    else:
        raise ctx.error("missing field (needed unless chosen and rejected are message lists)", "prompt")

    meta: dict[str, Any] = dict(record["meta"]) if isinstance(record.get("meta"), dict) else {}
    meta.update({k: v for k, v in record.items() if k not in _FIELDS})
    md = _metadata(record.get("metadata"))
    if "metadata" in record:
        rest = {k: v for k, v in (md or {}).items() if k not in ("score_chosen", "score_rejected")}
        if md is None or rest:
            meta["metadata"] = record["metadata"] if md is None else rest
    md = md or {}
    cs = _first(record.get("chosen_score"), record.get("score_chosen"), md.get("score_chosen"))
    rs = _first(record.get("rejected_score"), record.get("score_rejected"), md.get("score_rejected"))
    strength = record.get("strength")
    if "strength" not in record and isinstance(cs, (int, float)) and isinstance(rs, (int, float)):
        strength = cs - rs
    aspects = record.get("aspects") or []
    if isinstance(aspects, str):
        aspects = [aspects]
    if not isinstance(aspects, list) or not all(isinstance(a, str) for a in aspects):
        raise ctx.error("expected a list of strings", "aspects")
    source = record.get("source", ctx.source)
    yield PreferencePair(
        prompt=prompt,
        chosen=c,
        rejected=r,
        subset=record["subset"] if "subset" in record else ctx.folder(),
        source=source if source is None or isinstance(source, str) else ctx.source,
        margin=record.get("margin"),
        aspects=list(aspects),
        chosen_score=cs,
        rejected_score=rs,
        strength=strength,
        meta=meta,
    )
