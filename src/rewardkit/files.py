"""Atomic file writes: write beside the target, then rename over it.

A reader (or a rerun after a kill) sees the old file or the new one, never half of one. Used for every cache
file and every results file rewardkit writes; directories (checkpoints, converted models) are staged the
same way where they are written. A cache file that is reused is `mark_used`: its mtime is its last use.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on a clean exit it replaces `path`, on an error it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def staged_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty hidden directory beside `path`; on a clean exit it takes the place of `path`, on an error
    it is removed. A kill at any point leaves the previous `path` complete, or (between its removal and the
    final rename) no `path` at all, never a half-written one. Leftovers of killed runs are removed first."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.staging"):
        shutil.rmtree(stale, ignore_errors=True)
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".staging"))
    try:
        yield staged
        if target.exists():
            retired = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".staging"))
            os.replace(target, retired / target.name)  # a directory cannot be renamed over a non-empty one
        os.replace(staged, target)
    finally:
        for leftover in target.parent.glob(f".{target.name}.*.staging"):
            shutil.rmtree(leftover, ignore_errors=True)


def write_atomic(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` and move the result to `path` atomically; returns `path`."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(
    path: str | Path, data: Any, *, indent: int | None = 2, default: Callable[[Any], Any] | None = None
) -> Path:
    """JSON with a trailing newline. A value JSON cannot encode raises, unless `default` converts it (e.g. str)."""
    return write_text_atomic(path, json.dumps(data, indent=indent, default=default) + "\n")


def dump_jsonl(stream: IO[str], records: Iterable[Any]) -> None:
    """One JSON object per line, non-ASCII kept as is."""
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_jsonl_atomic(path: str | Path, records: Iterable[Any]) -> Path:
    """`dump_jsonl` streamed to a temporary file that then replaces `path`."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            dump_jsonl(f, records)

    return write_atomic(path, write)


def mark_used(path: str | Path) -> None:
    """Set a reused cache file's mtime to now, so that mtime = last use: the files a run needed can be listed
    (and stale ones found). A read-only cache still serves."""
    with contextlib.suppress(OSError):
        os.utime(path)
