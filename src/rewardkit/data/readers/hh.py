"""Anthropic HH-RLHF transcripts: `{"chosen": "\\n\\nHuman: …\\n\\nAssistant: …", "rejected": "…"}`.

How a pair is cut out of the two transcripts (decisions, checked on the 4 real test files):

* A turn starts at "\\n\\nHuman:" or "\\n\\nAssistant:" (or at one of them opening the text). One space after the
  colon is stripped. Markers NOT preceded by a blank line ("…drag kings.  Human: Then…", "Assistant: Human: Well…")
  are text, not turns.
* The prompt is the run of turns the two transcripts share; the response starts at the first assistant turn where
  they part (or at the final assistant turn when one transcript merely extends the other). The response is the rest
  of the transcript, VERBATIM: in a few real records (helpful-base 9, harmless-base 5, rejection-sampled 3,
  helpful-online 2) the model's reply itself goes on with "\\n\\nHuman: …\\n\\nAssistant: …" text, which is part
  of what the labeler judged. Such pairs are kept and counted in the report notes.
* An empty final assistant turn ("…\\n\\nAssistant: " at the end; 4 + 4 + 3 + 0 real records) cannot be a
  PreferencePair response: the pair is dropped and counted (reason "empty final assistant turn"), or raises
  DataError when strict=True.
* Structural problems (not a string, no markers, no assistant turn, text before the first marker, a prompt that does
  not end with a user turn) always raise DataError.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rewardkit.data.readers.base import Item, RecordContext, empty_response, require_str
from rewardkit.data.record import DataError, PreferencePair

_MARKER = re.compile(r"(?:^|\n\n)(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    content: str
    start: int  # offset of the content in the transcript (after the marker and one space)


def parse_transcript(text: str, *, field: str = "transcript", ctx: RecordContext | None = None) -> list[Turn]:
    """Split an HH transcript into turns; DataError if it has no markers or text before the first one."""

    def fail(message: str) -> DataError:
        return ctx.error(message, field) if ctx else DataError(message, field=field)

    marks = list(_MARKER.finditer(text))
    if not marks:
        raise fail("no '\\n\\nHuman:' / '\\n\\nAssistant:' turn markers")
    if text[: marks[0].start()].strip():
        raise fail(f"text before the first turn marker: {text[:40]!r}")
    turns = []
    for m, nxt in zip(marks, marks[1:] + [None]):
        start = m.end() + (1 if text.startswith(" ", m.end()) else 0)
        end = nxt.start() if nxt else len(text)
        turns.append(Turn(_ROLE[m.group(1)], text[start:end], start))
    return turns


def split_pair(
    chosen: str, rejected: str, ctx: RecordContext | None = None
) -> tuple[list[dict[str, str]], str, str, bool]:
    """(prompt messages, chosen response, rejected response, whether a response continues the dialogue)."""
    tc = parse_transcript(chosen, field="chosen", ctx=ctx)
    tr = parse_transcript(rejected, field="rejected", ctx=ctx)
    k = 0
    while k < min(len(tc), len(tr)) and (tc[k].role, tc[k].content) == (tr[k].role, tr[k].content):
        k += 1
    r = min(k, len(tc) - 1, len(tr) - 1)
    while r >= 0 and not (tc[r].role == tr[r].role == "assistant"):
        r -= 1
    if r < 0:
        message = "no assistant turn that starts the two responses"
        raise ctx.error(message, "chosen") if ctx else DataError(message, field="chosen")
    prompt = [{"role": t.role, "content": t.content} for t in tc[:r]]
    continues = r + 1 < len(tc) or r + 1 < len(tr)
    return prompt, chosen[tc[r].start :], rejected[tr[r].start :], continues


def read_hh(record: dict[str, Any], ctx: RecordContext) -> Iterator[Item]:
    """One HH record -> one PreferencePair (subset = the folder name, e.g. 'harmless-base')."""
    chosen, rejected = require_str(record, "chosen", ctx), require_str(record, "rejected", ctx)
    prompt, c, r, continues = split_pair(chosen, rejected, ctx)
    for name, text in (("chosen", c), ("rejected", r)):
        if not text.strip():
            yield empty_response(ctx, name, "empty final assistant turn")
            return
    if not prompt or prompt[-1]["role"] != "user":
        raise ctx.error("the shared dialogue before the responses must end with a Human turn", "chosen")
    if continues:
        ctx.note("response continues the dialogue (kept verbatim)")
    if any(not m["content"].strip() for m in prompt):
        ctx.note("empty turn inside the prompt (kept)")
    meta = {k: v for k, v in record.items() if k not in ("chosen", "rejected")}
    yield PreferencePair(
        prompt=prompt, chosen=c, rejected=r, subset=record.get("subset") or ctx.folder(), source=ctx.source, meta=meta
    )
