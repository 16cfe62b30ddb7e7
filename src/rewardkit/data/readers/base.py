"""Shared pieces of the format readers: the per-record context and the `Skip` marker for dropped pairs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from rewardkit.data.record import DataError, PreferencePair


@dataclass(frozen=True)
class Skip:
    """A candidate pair a reader dropped on purpose, with the reason that goes into the load report.

    `expected` marks drops that are part of the format's design (ties, "no preference" labels); those are
    logged at INFO. Other drops (data-quality problems) are logged at WARNING.
    """

    reason: str
    expected: bool = False


@dataclass
class RecordContext:
    """Where a raw record comes from, and the reading options a reader may need.

    path:   the file as given (used in DataError messages); `hf:org/name:split` for hub datasets.
    source: short display name of the file (its last three path parts), stored in `PreferencePair.source`.
    index:  0-based record index in the file.
    strict: raise DataError on known real-data quirks instead of dropping / repairing them.
    notes:  counts of kept-but-repaired quirks (e.g. a JSON `true` turned into the text "True").
    """

    path: str
    source: str
    index: int = 0
    strict: bool = False
    notes: dict[str, int] = field(default_factory=dict)

    def error(self, message: str, field: str | None = None) -> DataError:
        return DataError(message, source=self.path, index=self.index, field=field)

    def note(self, what: str) -> None:
        self.notes[what] = self.notes.get(what, 0) + 1

    @property
    def parts(self) -> tuple[str, ...]:
        """Path components of the file (empty for hub datasets)."""
        return () if self.path.startswith("hf:") else PurePath(self.path).parts

    def folder(self) -> str | None:
        """Name of the folder holding the file, used as a default subset (e.g. 'helpful-base')."""
        parts = self.parts
        return parts[-2] if len(parts) >= 2 else None


Item = PreferencePair | Skip
Reader = Callable[[dict[str, Any], RecordContext], Iterable[Item]]


def require(record: dict[str, Any], key: str, ctx: RecordContext) -> Any:
    """The value of a required field, or DataError naming it."""
    if key not in record:
        raise ctx.error(f"missing field (record has {sorted(record)})", field=key)
    return record[key]


def require_str(record: dict[str, Any], key: str, ctx: RecordContext) -> str:
    value = require(record, key, ctx)
    if not isinstance(value, str):
        raise ctx.error(f"expected a string, got {type(value).__name__}", field=key)
    return value


def user_prompt(text: str) -> list[dict[str, str]]:
    """A single-turn prompt."""
    return [{"role": "user", "content": text}]


def empty_response(ctx: RecordContext, which: str, reason: str) -> Skip:
    """Drop a pair with an empty response (a known quirk of some real data); DataError in strict mode."""
    if ctx.strict:
        raise ctx.error(f"empty response ({reason}; not dropped because strict=True)", field=which)
    return Skip(reason)


def int_label(value: Any, allowed: tuple[int, ...], field: str, ctx: RecordContext) -> int:
    """An int label given as int or digit string (bools rejected)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or value not in allowed:
        raise ctx.error(f"expected one of {allowed}, got {value!r}", field)
    return int(value)
