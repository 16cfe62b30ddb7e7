"""Container formats: iterate raw records (dicts) from files or Hugging Face hub datasets.

Local files: `.jsonl`, `.json` (a JSON array, a single object, or JSON Lines saved as .json, detected from the
content), either one gzipped (`.jsonl.gz`, `.json.gz`), and `.parquet`. Anything unreadable raises DataError naming
the file and the record index / line. Hub datasets are read only for sources written `hf:org/name[:split[:config]]`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import IO, Any

from rewardkit.data.record import DataError

HUB_PREFIX = "hf:"
SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".parquet")


def is_hub(source: str | Path) -> bool:
    return str(source).startswith(HUB_PREFIX)


def short_name(source: str | Path, split: str | None = None) -> str:
    """Display name: the last three parts of a path ('hh-rlhf/helpful-base/test.jsonl.gz'), or for a hub
    dataset 'hf:org/name[:split[:config]]' with `split` (if given) in place of the source's own split."""
    if not is_hub(source):
        return "/".join(PurePath(source).parts[-3:])
    name, own_split, config = parse_hub(str(source))
    split = split or own_split
    return HUB_PREFIX + name + (f":{split}" if split or config else "") + (f":{config}" if config else "")


def parse_hub(source: str) -> tuple[str, str | None, str | None]:
    """'hf:org/name[:split[:config]]' -> (name, split, config)."""
    parts = source[len(HUB_PREFIX) :].split(":")
    if not parts[0] or len(parts) > 3:
        raise DataError("expected 'hf:org/name[:split[:config]]'", source=source)
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1] or None, parts[2] or None


def iter_hub(source: str, split: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a hub dataset via `datasets.load_dataset` (`split` overrides the one in the source)."""
    from datasets import load_dataset

    name, split_in_source, config = parse_hub(source)
    split = split or split_in_source
    try:
        ds = load_dataset(name, config, split=split) if split else load_dataset(name, config)
    except Exception as e:  # network, missing dataset, bad config: all become DataError naming the source
        raise DataError(f"cannot load the hub dataset: {e}", source=source) from e
    if not split:
        if len(ds) != 1:
            raise DataError(f"the dataset has splits {sorted(ds)}; name one: {source}:<split>", source=source)
        ds = next(iter(ds.values()))
    for row in ds:
        yield dict(row)


GZIP_MAGIC = b"\x1f\x8b"


def _open(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it is gzip (by its first bytes, whatever its name says)."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _as_record(value: Any, path: Path, index: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(f"expected a JSON object, got {type(value).__name__}", source=str(path), index=index)
    return value


def _iter_lines(path: Path, lines: Iterator[bytes | str]) -> Iterator[dict[str, Any]]:
    index = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"line {lineno} is not valid JSON: {e}", source=str(path), index=index) from None
        yield _as_record(value, path, index)
        index += 1


def _iter_json(path: Path, text: str) -> Iterator[dict[str, Any]]:
    """A JSON array, one JSON object, or JSON Lines (e.g. summarize-from-feedback's .json files)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        if text.lstrip().startswith("["):
            raise DataError(f"not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}", source=str(path)) from None
        yield from _iter_lines(path, iter(text.split("\n")))  # JSON Lines; names the bad line, if any
        return
    for index, item in enumerate(value if isinstance(value, list) else [value]):
        yield _as_record(item, path, index)


def _iter_parquet(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        batches = pq.ParquetFile(path).iter_batches()
        for batch in batches:
            yield from batch.to_pylist()
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"cannot read parquet: {e}", source=str(path)) from e


def iter_records(source: str | Path, *, split: str | None = None) -> Iterator[dict[str, Any]]:
    """Raw records of a file or `hf:` dataset, in order. `split` is only used for hub datasets."""
    if is_hub(source):
        yield from iter_hub(str(source), split)
        return
    path = Path(source)
    if not path.is_file():
        raise DataError("no such file", source=str(path))
    name = path.name.lower()
    if name.endswith(".parquet"):
        yield from _iter_parquet(path)
        return
    if not name.endswith(SUFFIXES):
        raise DataError(
            f"unsupported file type (expected one of {', '.join(SUFFIXES)}, or hf:org/name)", source=str(path)
        )
    try:
        with _open(path) as f:
            if name.endswith((".jsonl", ".jsonl.gz")):
                yield from _iter_lines(path, f)
            else:
                yield from _iter_json(path, f.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, OSError, EOFError) as e:  # bad UTF-8 in a .json, corrupt or truncated gzip
        raise DataError(f"cannot read: {e}", source=str(path)) from e
