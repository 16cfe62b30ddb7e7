"""Public entry point: load PreferencePairs from any supported file / format, and save them back.

    pairs = load_pairs("…/hh-rlhf/helpful-base/test.jsonl.gz")
    pairs, report = load_pairs_with_report(DataSpec(path, format="pandalm", strict=True))

Every pair goes through `validate_pair` (bad input -> DataError naming file, record index and field), with one
exception: a pair with an empty (or whitespace-only) response is dropped and counted ("empty response"; HH:
"empty final assistant turn"), because the real data has them (UltraFeedback sample, PandaLM, HH); with
strict=True it raises DataError instead. Pairs whose chosen and rejected are equal (ignoring surrounding
whitespace) are always dropped. Every drop is counted by reason in the `LoadReport` and logged on the
"rewardkit.data" logger: WARNING when data-quality drops happened (chosen == rejected, empty responses), INFO when
only by-design drops did (ties, "no preference" labels, split filter).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rewardkit.data.io import is_hub, iter_records, short_name
from rewardkit.data.readers import PAIRWISE, RecordContext, Skip, detect_format, get_reader
from rewardkit.data.record import DataError, PreferencePair, validate_pair

logger = logging.getLogger("rewardkit.data")

FORMATS = ("auto", "pairwise", "explicit", "hh", "llmbar", "pandalm", "summarize", "qa_feedback")


@dataclass
class DataSpec:
    """What to load.

    path:   a .jsonl / .json / .jsonl.gz / .json.gz / .parquet file, or `hf:org/name[:split[:config]]`.
    format: "auto" (from the first record's keys), "pairwise" (auto among the pairwise formats), or one of
            explicit, hh, llmbar, pandalm, summarize, qa_feedback.
    limit:  keep the first N pairs (counted after dropping); reading stops there.
    subset: if given, overrides the `subset` label of every pair.
    split:  hub datasets: the split to load. Local files: keep only records whose `split` field equals it
            (e.g. "valid1" in summarize-from-feedback); records without a `split` field raise DataError.
    strict: raise DataError on known real-data quirks instead of dropping / repairing them: empty responses
            (any format; HH empty final turns), PandaLM's JSON-boolean responses.
    """

    path: str
    format: str = "auto"
    limit: int | None = None
    subset: str | None = None
    split: str | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        self.path = str(self.path)
        if self.format not in FORMATS:
            raise DataError(f"unknown format {self.format!r}; known: {', '.join(FORMATS)}", source=self.path)
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 0):
            raise DataError(f"limit must be a non-negative int, got {self.limit!r}", source=self.path)


@dataclass
class LoadReport:
    """What happened while loading one source: counts of records, candidate pairs, kept, dropped by reason."""

    source: str
    format: str
    records: int = 0  # raw records read
    candidates: int = 0  # candidate pairs the reader produced (QA-Feedback: up to 6 per record)
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)  # kept, but a quirk was handled (see readers)
    quality_drops: int = 0  # drops that point at data problems rather than at the format's design

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    def summary(self) -> str:
        if not self.dropped:
            return f"{self.source}: loaded {self.kept} pairs from {self.records} records"
        reasons = ", ".join(f"{r}: {n}" for r, n in self.dropped.most_common())
        return f"{self.source}: dropped {self.n_dropped} of {self.candidates} pairs ({reasons})"

    def drop(self, skip: Skip) -> None:
        self.dropped[skip.reason] += 1
        self.quality_drops += not skip.expected


def _has_empty_response(pair: PreferencePair) -> bool:
    return any(isinstance(r, str) and not r.strip() for r in (pair.chosen, pair.rejected))


def _spec(spec: DataSpec | str | Path) -> DataSpec:
    return spec if isinstance(spec, DataSpec) else DataSpec(path=str(spec))


def load_pairs_with_report(spec: DataSpec | str | Path) -> tuple[list[PreferencePair], LoadReport]:
    """Load, validate and filter the pairs of one source; also return the LoadReport."""
    spec = _spec(spec)
    hub = is_hub(spec.path)
    source = short_name(spec.path, spec.split if hub else None)
    ctx = RecordContext(path=spec.path, source=source, strict=spec.strict)
    report = LoadReport(source=source, format=spec.format)
    reader = None
    pairs: list[PreferencePair] = []
    limit = float("inf") if spec.limit is None else spec.limit
    for index, record in enumerate(iter_records(spec.path, split=spec.split if hub else None)):
        if len(pairs) >= limit:
            break
        if reader is None:  # the first record fixes the format
            fmt = spec.format
            if fmt in ("auto", "pairwise"):
                fmt = detect_format(record, among=PAIRWISE if fmt == "pairwise" else None, source=spec.path)
            reader, report.format = get_reader(fmt), fmt
        report.records += 1
        ctx.index = index
        if spec.split and not hub:
            if "split" not in record:
                raise ctx.error("missing field (split= was given for a local file)", "split")
            if record["split"] != spec.split:
                report.candidates += 1
                report.drop(Skip(f"split != {spec.split}", expected=True))
                continue
        for item in reader(record, ctx):
            if len(pairs) >= limit:
                break
            report.candidates += 1
            if isinstance(item, Skip):
                report.drop(item)
                continue
            if not spec.strict and _has_empty_response(item):
                report.drop(Skip("empty response"))
                continue
            validate_pair(item, source=spec.path, index=index)
            if item.chosen.strip() == item.rejected.strip():
                report.drop(Skip("chosen == rejected"))
                continue
            if spec.subset is not None:
                item.subset = spec.subset
            pairs.append(item)
    if report.records == 0 and spec.limit != 0:
        raise DataError("no records: the file is empty (or has only blank lines)", source=spec.path)
    report.kept, report.notes = len(pairs), Counter(ctx.notes)
    logger.log(logging.WARNING if report.quality_drops else logging.INFO, report.summary())
    if report.notes:
        logger.info(
            "%s: kept with quirks handled (%s)", source, ", ".join(f"{r}: {n}" for r, n in report.notes.most_common())
        )
    return pairs, report


def load_pairs(spec: DataSpec | str | Path) -> list[PreferencePair]:
    """Load one source (a DataSpec or just a path) as validated PreferencePairs."""
    return load_pairs_with_report(spec)[0]


def load_many_with_report(specs: Iterable[DataSpec | str | Path]) -> tuple[list[PreferencePair], list[LoadReport]]:
    """Load several sources, concatenated in order, with one LoadReport per source."""
    pairs: list[PreferencePair] = []
    reports: list[LoadReport] = []
    for spec in specs:
        p, r = load_pairs_with_report(spec)
        pairs += p
        reports.append(r)
    return pairs, reports


def load_many(specs: Iterable[DataSpec | str | Path]) -> list[PreferencePair]:
    """Load several sources, concatenated in order."""
    return load_many_with_report(specs)[0]


def save_pairs(pairs: Iterable[PreferencePair], path: str | Path) -> Path:
    """Write pairs as explicit JSON Lines (gzipped if the name ends in .gz); `load_pairs` reads them back equal."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        for pair in pairs:
            f.write(json.dumps(pair.to_dict(), ensure_ascii=False) + "\n")
    return path
