"""Format readers: each turns one raw record (a dict) into PreferencePairs, or `Skip` markers for dropped pairs.

Formats: "explicit" (prompt/chosen/rejected, TRL standard or conversational), "hh" (Anthropic HH transcripts),
and the pairwise ones "llmbar", "pandalm", "summarize" (OpenAI summarize-from-feedback), "qa_feedback".
`detect_format` picks one from the first record's keys; "pairwise" detects among the pairwise ones only.
"""

from __future__ import annotations

from typing import Any

from rewardkit.data.readers.base import Item, Reader, RecordContext, Skip
from rewardkit.data.readers.explicit import read_explicit
from rewardkit.data.readers.hh import parse_transcript, read_hh, split_pair
from rewardkit.data.readers.pairwise import read_llmbar, read_pandalm
from rewardkit.data.readers.qa_feedback import read_qa_feedback
from rewardkit.data.readers.summarize import read_summarize
from rewardkit.data.record import DataError

READERS: dict[str, Reader] = {
    "explicit": read_explicit,
    "hh": read_hh,
    "llmbar": read_llmbar,
    "pandalm": read_pandalm,
    "summarize": read_summarize,
    "qa_feedback": read_qa_feedback,
}
PAIRWISE = ("llmbar", "pandalm", "summarize", "qa_feedback")

# Keys that identify each format (checked in this order).
_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("qa_feedback", frozenset({"prediction 1", "prediction 2", "preference"})),
    ("summarize", frozenset({"summaries", "choice"})),
    ("pandalm", frozenset({"response1", "response2", "annotator1"})),
    ("llmbar", frozenset({"output_1", "output_2", "label"})),
)


def detect_format(record: dict[str, Any], *, among: tuple[str, ...] | None = None, source: str | None = None) -> str:
    """The format name for a raw record, from its keys (and, for chosen/rejected, the value types).

    chosen/rejected with a `prompt`, or as message lists -> "explicit"; as strings without a prompt -> "hh".
    """
    keys = set(record)
    for name, signature in _SIGNATURES:
        if signature <= keys and (among is None or name in among):
            return name
    if among is None and {"chosen", "rejected"} <= keys:
        return "explicit" if "prompt" in keys or not isinstance(record["chosen"], str) else "hh"
    wanted = ", ".join(among) if among else "any known format"
    raise DataError(
        f"cannot detect the format ({wanted}) from the keys {sorted(keys)}; pass format=", source=source, index=0
    )


def get_reader(name: str) -> Reader:
    """The reader for a format name; DataError for an unknown name."""
    try:
        return READERS[name]
    except KeyError:
        raise DataError(f"unknown format {name!r}; known: auto, pairwise, {', '.join(READERS)}") from None


__all__ = [
    "READERS",
    "PAIRWISE",
    "Item",
    "Reader",
    "RecordContext",
    "Skip",
    "detect_format",
    "get_reader",
    "parse_transcript",
    "split_pair",
    "read_explicit",
    "read_hh",
    "read_llmbar",
    "read_pandalm",
    "read_summarize",
    "read_qa_feedback",
]
