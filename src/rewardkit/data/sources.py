"""Data entries of a config → pairs; train / held-out splits that never leak pairs across."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rewardkit.data.loading import DataSpec, load_pairs
from rewardkit.data.record import DataError, PreferencePair

log = logging.getLogger("rewardkit.data")

SUITE = "suite"


def load_entry(entry: Any, *, suite_size: int = 200, suite_seed: int = 0) -> list[PreferencePair]:
    """One config entry: "suite", a path / "hf:..." string, or a mapping of DataSpec fields."""
    if entry == SUITE or (isinstance(entry, dict) and entry.get("path") == SUITE):
        from rewardkit.data.suite import build_suite

        opts = entry if isinstance(entry, dict) else {}
        pairs = build_suite(
            n_per_family=opts.get("size", suite_size), seed=opts.get("seed", suite_seed), families=opts.get("families")
        )
        return pairs[: opts["limit"]] if opts.get("limit") else pairs
    if isinstance(entry, str):
        return load_pairs(DataSpec(path=entry))
    if isinstance(entry, dict):
        try:
            return load_pairs(DataSpec(**entry))
        except TypeError as e:
            raise DataError(f"bad data entry {entry}: {e}") from e
    raise DataError(f"a data entry must be 'suite', a path or a mapping, not {type(entry).__name__}")


def load_entries(entries: Sequence[Any], **kwargs: Any) -> list[PreferencePair]:
    pairs: list[PreferencePair] = []
    for entry in entries:
        pairs.extend(load_entry(entry, **kwargs))
    return pairs


def entry_name(entry: Any) -> str:
    if isinstance(entry, dict):
        entry = entry.get("name") or entry.get("path")
    text = str(entry)
    for suffix in (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".parquet"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts[-2:]) if parts else text


def split_pairs(
    pairs: list[PreferencePair], fraction: float, seed: int = 0
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(rest, held_out): `fraction` of the pairs of each subset, chosen at random with `seed`.

    Pairs sharing a prompt stay on the same side, so a held-out prompt was never seen in training.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"split fraction must be in [0, 1), got {fraction}")
    if fraction == 0:
        return list(pairs), []
    groups: dict[str | None, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, p in enumerate(pairs):
        groups[p.subset][repr(p.prompt)].append(i)
    rng = random.Random(seed)
    held: set[int] = set()
    for subset in sorted(groups, key=str):
        prompts = sorted(groups[subset])
        rng.shuffle(prompts)
        total = sum(len(groups[subset][k]) for k in prompts)
        target, taken = round(total * fraction), 0
        for key in prompts:
            if taken >= target:
                break
            held.update(groups[subset][key])
            taken += len(groups[subset][key])
    rest = [p for i, p in enumerate(pairs) if i not in held]
    return rest, [p for i, p in enumerate(pairs) if i in held]


def remove_overlap(
    test: list[PreferencePair], train: list[PreferencePair], name: str = "eval"
) -> tuple[list[PreferencePair], int]:
    """Drop test pairs whose content hash occurs in train; log and return how many were removed."""
    return remove_hashed(test, {p.content_hash() for p in train}, name)


def remove_hashed(test: list[PreferencePair], seen: set[str], name: str = "eval") -> tuple[list[PreferencePair], int]:
    """Drop test pairs whose content hash is in `seen` (hashes of training pairs, computed once for several
    test sets); log and return how many were removed."""
    kept = [p for p in test if p.content_hash() not in seen]
    removed = len(test) - len(kept)
    if removed:
        log.warning("%s: removed %d of %d pairs that also occur in the training data", name, removed, len(test))
    return kept, removed
