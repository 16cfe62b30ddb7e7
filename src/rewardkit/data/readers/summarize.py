"""OpenAI summarize-from-feedback comparisons (Stiennon et al. 2020), one JSON object per line.

`{"info": {id, post, title, subreddit} | {id, site, title, article}, "split": "valid1"|"valid2",
"summaries": [{"text", "policy", "note"}, {…}], "choice": 0|1, "worker", "batch", "extra": {"confidence": 1-9}}`

* prompt: the paper's query format, "SUBREDDIT: r/…\\n\\nTITLE: …\\n\\nPOST: …\\n\\nTL;DR:" (Reddit), or
  "<article>\\n\\nTL;DR:" (CNN/DM), as one user turn.
* chosen = summaries[choice]["text"], rejected = the other; both stripped (the texts start with a space, as
  continuations of "TL;DR:").
* subset = "<domain>-<split>", e.g. "tldr-valid2" or "cnndm-valid1" (valid1 / valid2 come from different policy
  mixes, so per-split metrics are useful); just "tldr" / "cnndm" when a record has no split.
* strength = extra.confidence, the labeler's raw 1-9 confidence (NOT rescaled to [0, 1]); None when absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rewardkit.data.readers.base import Item, RecordContext, int_label, require, user_prompt
from rewardkit.data.record import PreferencePair


def _text(d: dict[str, Any], key: str, field: str, ctx: RecordContext) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise ctx.error(f"expected a string '{key}', got {type(value).__name__}", field)
    return value


def summarize_prompt(info: dict[str, Any], ctx: RecordContext) -> tuple[str, str]:
    """(query text, domain) for a comparison's `info`."""
    if "article" in info:
        return f"{_text(info, 'article', 'info', ctx).strip()}\n\nTL;DR:", "cnndm"
    subreddit = _text(info, "subreddit", "info", ctx).strip().removeprefix("r/")
    title, post = _text(info, "title", "info", ctx).strip(), _text(info, "post", "info", ctx).strip()
    return f"SUBREDDIT: r/{subreddit}\n\nTITLE: {title}\n\nPOST: {post}\n\nTL;DR:", "tldr"


def read_summarize(record: dict[str, Any], ctx: RecordContext) -> Iterator[Item]:
    """One comparison -> one PreferencePair."""
    info = require(record, "info", ctx)
    if not isinstance(info, dict):
        raise ctx.error(f"expected an object, got {type(info).__name__}", "info")
    summaries = require(record, "summaries", ctx)
    if not isinstance(summaries, list) or len(summaries) != 2 or not all(isinstance(s, dict) for s in summaries):
        raise ctx.error("expected a list of two summary objects", "summaries")
    texts = [_text(s, "text", "summaries", ctx).strip() for s in summaries]
    choice = int_label(require(record, "choice", ctx), (0, 1), "choice", ctx)
    query, domain = summarize_prompt(info, ctx)
    split = record.get("split")
    extra = record.get("extra") if isinstance(record.get("extra"), dict) else {}
    meta = {
        "id": info.get("id"),
        "split": split,
        "choice": choice,
        "worker": record.get("worker"),
        "batch": record.get("batch"),
        "chosen_policy": summaries[choice].get("policy"),
        "rejected_policy": summaries[1 - choice].get("policy"),
    }
    yield PreferencePair(
        prompt=user_prompt(query),
        chosen=texts[choice],
        rejected=texts[1 - choice],
        subset=f"{domain}-{split}" if split else domain,
        source=ctx.source,
        strength=extra.get("confidence"),
        meta=meta,
    )
