"""The one internal preference record every reader produces and every later stage consumes."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


class DataError(ValueError):
    """Bad input, always naming where it is: file, record index and field."""

    def __init__(self, message: str, *, source: str | None = None, index: int | None = None, field: str | None = None):
        self.source, self.index, self.field = source, index, field
        where = []
        if source is not None:
            where.append(str(source))
        if index is not None:
            where.append(f"record {index}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass
class PreferencePair:
    """A prompt (chat messages) with a preferred and a dispreferred final assistant response.

    Optional fields:
      subset / source: where the pair comes from (used for per-subset metrics).
      margin: per-pair margin for a margin-aware Bradley-Terry loss (TRL's `margin` column).
      aspects: aspect tags (e.g. ["harmlessness"]) or task family labels.
      chosen_score / rejected_score: graded scores of the two responses (e.g. UltraFeedback ratings).
      strength: graded human preference strength (e.g. annotator agreement, labeler confidence).
      meta: anything else a reader wants to keep (ids, raw labels).
    """

    prompt: list[Message]
    chosen: str
    rejected: str
    subset: str | None = None
    source: str | None = None
    margin: float | None = None
    aspects: list[str] = field(default_factory=list)
    chosen_score: float | None = None
    rejected_score: float | None = None
    strength: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        """Hash of prompt + both responses: identifies a pair across files (train/test overlap checks)."""
        payload = json.dumps([self.prompt, self.chosen, self.rejected], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PreferencePair:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


def check_text(value: str, *, source: str | None, index: int | None, field: str) -> str:
    """DataError unless `value` is valid Unicode: JSON may carry lone surrogates ("\\ud800") that no tokenizer
    (nor UTF-8 writer) accepts."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise DataError(
            f"not valid Unicode text ({e.reason} at character {e.start})", source=source, index=index, field=field
        ) from None
    return value


def check_number(value: Any, *, source: str | None, index: int | None, field: str) -> None:
    """DataError unless `value` is None or a finite int / float (booleans and NaN / inf are refused)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"expected a number, got {type(value).__name__}", source=source, index=index, field=field)
    if not math.isfinite(value):
        raise DataError(f"expected a finite number, got {value}", source=source, index=index, field=field)


def validate_messages(messages: Any, *, source: str | None, index: int | None, field: str) -> list[Message]:
    """Check a chat message list; return it normalised (plain dicts with role and content)."""
    if not isinstance(messages, list) or not messages:
        raise DataError(
            f"expected a non-empty list of messages, got {type(messages).__name__}",
            source=source,
            index=index,
            field=field,
        )
    out: list[Message] = []
    for j, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise DataError(
                f"message {j} must be a dict with 'role' and 'content'", source=source, index=index, field=field
            )
        role, content = m["role"], m["content"]
        if role not in ROLES:
            raise DataError(
                f"message {j} has unknown role {role!r} (expected one of {ROLES})",
                source=source,
                index=index,
                field=field,
            )
        if not isinstance(content, str):
            raise DataError(
                f"message {j} content must be a string, got {type(content).__name__}",
                source=source,
                index=index,
                field=field,
            )
        check_text(content, source=source, index=index, field=field)
        out.append({"role": role, "content": content})
    return out


def validate_pair(pair: PreferencePair, *, source: str | None = None, index: int | None = None) -> PreferencePair:
    """Raise DataError naming the field if the pair is malformed; return the pair otherwise."""
    pair.prompt = validate_messages(pair.prompt, source=source, index=index, field="prompt")
    if pair.prompt[-1]["role"] == "assistant":
        raise DataError(
            "the prompt must not end with an assistant turn (the response is the next assistant turn)",
            source=source,
            index=index,
            field="prompt",
        )
    for name in ("chosen", "rejected"):
        value = getattr(pair, name)
        if not isinstance(value, str):
            raise DataError(f"expected a string, got {type(value).__name__}", source=source, index=index, field=name)
        if not value.strip():
            raise DataError("empty response", source=source, index=index, field=name)
        check_text(value, source=source, index=index, field=name)
    for name in ("margin", "chosen_score", "rejected_score", "strength"):
        check_number(getattr(pair, name), source=source, index=index, field=name)
    return pair
