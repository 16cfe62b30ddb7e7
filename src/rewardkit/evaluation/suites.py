"""Named evaluation suites: registered sets of real preference data, resolved under a data root.

    suite = get_suite("standard")                       # or a YAML file (see load_suite_config)
    sets = load_suite(suite, data_root, limit=300, exclude=train_pairs)
    result = evaluate_suite(scorer, sets)               # {"metrics", "sections", "margins"}

The data root is `--data-root`, else `$REWARDKIT_DATA`, else `../shared/data`. Every set is loaded with the
regular readers (drops counted by reason, e.g. PandaLM ties), then pairs that occur in the training data are
removed by content hash (`exclude`; the count is reported), then optionally sampled down to `limit` pairs:
a seeded sample stratified by subset (proportional, largest remainder), kept in file order. The sample
depends only on (seed, subset, the remaining pairs), so every checkpoint sees the same pairs.

Section scores follow RewardBench: the accuracies of a section's subsets weighted by the subsets' sizes
*before* sampling (the full subset sizes), which is the pooled accuracy on the full data and an unbiased
estimate of it on a stratified sample.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from rewardkit.data.loading import FORMATS, DataSpec, load_pairs_with_report
from rewardkit.data.record import DataError, PreferencePair
from rewardkit.data.sources import remove_hashed

log = logging.getLogger("rewardkit.evaluation")

DATA_ENV = "REWARDKIT_DATA"
DEFAULT_DATA_ROOT = Path("..") / "shared" / "data"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class EvalSetConfig:
    """One named eval set: files (relative to the data root, or absolute) read as one set of pairs."""

    name: str
    paths: list[str]
    format: str = "auto"
    split: str | None = None  # keep only records with this `split` field (see DataSpec)
    limit: int | None = None  # default sample size; None = every pair
    section: str | None = None  # sets sharing a section get a pooled, size-weighted section score
    description: str = ""

    def __post_init__(self) -> None:
        where = f"eval set {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise DataError(f"{where}, field 'name': letters, digits, '_', '.', '-' only")
        if isinstance(self.paths, str):
            self.paths = [self.paths]
        if not self.paths or not all(isinstance(p, str) and p for p in self.paths):
            raise DataError(f"{where}, field 'paths': must be a non-empty list of file paths")
        if self.format not in FORMATS:
            raise DataError(f"{where}, field 'format': unknown format {self.format!r}; known: {', '.join(FORMATS)}")
        if self.limit is not None and (
            not isinstance(self.limit, int) or isinstance(self.limit, bool) or self.limit < 1
        ):
            raise DataError(f"{where}, field 'limit': must be a positive int or null, not {self.limit!r}")


@dataclass
class SuiteConfig:
    """A named list of eval sets; `seed` fixes the stratified samples."""

    name: str
    sets: list[EvalSetConfig]
    description: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.sets:
            raise DataError(f"suite {self.name!r} has no sets")
        counts = Counter(s.name for s in self.sets)
        duplicates = sorted(n for n, c in counts.items() if c > 1)
        if duplicates:
            raise DataError(f"suite {self.name!r}: duplicate set names {duplicates}")

    def set(self, name: str) -> EvalSetConfig:
        for s in self.sets:
            if s.name == name:
                return s
        raise KeyError(f"suite {self.name!r} has no set {name!r}; sets: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sets]


_ADVERSARIAL = [f"llmbar/LLMBar/Adversarial/{d}/dataset.json" for d in ("Neighbor", "GPTInst", "GPTOut", "Manual")]
_TLDR = [f"summarize-from-feedback/comparisons/{f}.json" for f in ("batch13", "batch18", "edit_b2_eval_test")]

STANDARD = SuiteConfig(
    name="standard",
    description="HH-RLHF helpful/harmless test, LLMBar (RewardBench llmbar-*), PandaLM, UltraFeedback sample, "
    "summarize-from-feedback TL;DR comparisons",
    sets=[
        EvalSetConfig(
            "hh-helpful",
            ["hh-rlhf/helpful-base/test.jsonl.gz"],
            "hh",
            description="Anthropic HH-RLHF helpful-base test",
        ),
        EvalSetConfig(
            "hh-harmless",
            ["hh-rlhf/harmless-base/test.jsonl.gz"],
            "hh",
            description="Anthropic HH-RLHF harmless-base test",
        ),
        EvalSetConfig(
            "llmbar-natural",
            ["llmbar/LLMBar/Natural/dataset.json"],
            "llmbar",
            section="llmbar",
            description="LLMBar Natural (RewardBench llmbar-natural)",
        ),
        EvalSetConfig(
            "llmbar-adversarial",
            _ADVERSARIAL,
            "llmbar",
            section="llmbar",
            description="LLMBar Adversarial: Neighbor, GPTInst, GPTOut, Manual (RewardBench llmbar-adver-*)",
        ),
        EvalSetConfig(
            "pandalm",
            ["pandalm-testset/testset-v1.json"],
            "pandalm",
            description="PandaLM test set, majority of 3 annotators, ties dropped",
        ),
        EvalSetConfig(
            "ultrafeedback",
            ["ultrafeedback-binarized-sample/eval_clean.jsonl"],
            "explicit",
            description="UltraFeedback binarized, 200-pair eval sample (from the upstream train split)",
        ),
        EvalSetConfig(
            "tldr", _TLDR, "summarize", description="summarize-from-feedback TL;DR comparisons, valid1 + valid2"
        ),
    ],
)

SUITES: dict[str, SuiteConfig] = {"standard": STANDARD}


def register_suite(suite: SuiteConfig, *, replace: bool = False) -> SuiteConfig:
    """Make `suite` available by name (`get_suite`, `rewardkit eval --suite NAME`)."""
    if suite.name in SUITES and not replace:
        raise ValueError(f"suite {suite.name!r} is already registered")
    SUITES[suite.name] = suite
    return suite


def _set_from_mapping(raw: Any, source: str, index: int) -> EvalSetConfig:
    if not isinstance(raw, dict):
        raise DataError(f"expected a mapping, got {type(raw).__name__}", source=source, index=index, field="sets")
    known = {f.name for f in fields(EvalSetConfig)}
    unknown = sorted(set(raw) - known - {"path"})
    if unknown:
        raise DataError(f"unknown keys {unknown} (known: {sorted(known)})", source=source, index=index, field="sets")
    values = dict(raw)
    if "path" in values:
        values["paths"] = [values.pop("path")]
    if "name" not in values or "paths" not in values:
        raise DataError("every set needs a name and a path (or paths)", source=source, index=index, field="sets")
    try:
        return EvalSetConfig(**values)
    except DataError as e:
        raise DataError(str(e), source=source, index=index) from e


def suite_from_mapping(raw: dict[str, Any], source: str = "suite config") -> SuiteConfig:
    """A suite from its YAML form: {name, description?, seed?, extends?: SUITE, sets: [{name, path(s), ...}]}.

    `extends` starts from a registered suite's sets; a listed set with the same name replaces that set.
    """
    if not isinstance(raw, dict):
        raise DataError(f"expected a mapping, got {type(raw).__name__}", source=source)
    unknown = sorted(set(raw) - {"name", "description", "seed", "extends", "sets"})
    if unknown:
        raise DataError(f"unknown keys {unknown}", source=source)
    base: list[EvalSetConfig] = []
    if raw.get("extends") is not None:
        if raw["extends"] not in SUITES:
            raise DataError(
                f"extends unknown suite {raw['extends']!r}; known: {sorted(SUITES)}", source=source, field="extends"
            )
        base = list(SUITES[raw["extends"]].sets)
    sets_raw = raw.get("sets") or []
    if not isinstance(sets_raw, list):
        raise DataError("sets must be a list", source=source, field="sets")
    own = [_set_from_mapping(s, source, i) for i, s in enumerate(sets_raw)]
    replaced = {s.name for s in own}
    name = raw.get("name") or Path(source).stem
    try:
        return SuiteConfig(
            name=str(name),
            sets=[s for s in base if s.name not in replaced] + own,
            description=str(raw.get("description", "")),
            seed=int(raw.get("seed", 0)),
        )
    except DataError as e:
        raise DataError(str(e), source=source) from e


def load_suite_config(path: str | Path) -> SuiteConfig:
    """A suite from a YAML file (see `suite_from_mapping`)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise DataError(f"not valid YAML: {e}", source=str(path)) from e
    return suite_from_mapping(raw, str(path))


def get_suite(name_or_path: str | Path) -> SuiteConfig:
    """A registered suite by name, or a suite YAML file."""
    key = str(name_or_path)
    if key in SUITES:
        return SUITES[key]
    if key.endswith((".yaml", ".yml")) and Path(key).is_file():
        return load_suite_config(key)
    raise DataError(f"unknown suite {key!r}: registered suites are {sorted(SUITES)}, or give a .yaml file")


def resolve_data_root(explicit: str | Path | None = None) -> Path:
    """`explicit`, else $REWARDKIT_DATA, else ../shared/data (relative to the working directory)."""
    root = Path(explicit or os.environ.get(DATA_ENV) or DEFAULT_DATA_ROOT).expanduser()
    if not root.is_dir():
        how = "--data-root" if explicit else f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "the default"
        raise DataError(f"data root {root} (from {how}) is not a directory; pass --data-root or set ${DATA_ENV}")
    return root.resolve()


# ---- loading -------------------------------------------------------------------------------------


@dataclass
class EvalSet:
    """The pairs of one eval set, and how they were obtained."""

    config: EvalSetConfig
    pairs: list[PreferencePair]  # what is evaluated (after drops, overlap removal and sampling)
    loaded: int  # pairs the readers produced (after their drops)
    dropped: dict[str, int] = field(default_factory=dict)  # reader drops by reason, e.g. PandaLM ties
    overlap_removed: int = 0  # pairs also found in the training data (content hash)
    subset_sizes: dict[str, int] = field(default_factory=dict)  # before sampling: section-score weights

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def available(self) -> int:
        return self.loaded - self.overlap_removed

    def summary(self) -> dict[str, Any]:
        return {
            "pairs": len(self.pairs),
            "available": self.available,
            "loaded": self.loaded,
            "dropped": dict(self.dropped),
            "overlap_removed": self.overlap_removed,
            "subset_sizes": dict(self.subset_sizes),
            "section": self.config.section,
            "paths": list(self.config.paths),
            "description": self.config.description,
        }


def subset_name(pair: PreferencePair) -> str:
    return pair.subset or "(none)"  # the name pairwise_metrics uses for pairs without a subset


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Split `n` over groups in proportion to their sizes (largest remainder; ties by group order)."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    quotas = {k: n * v / total for k, v in sizes.items()}
    out = {k: int(q) for k, q in quotas.items()}
    order = sorted(sizes, key=lambda k: -(quotas[k] - out[k]))
    for k in order[: n - sum(out.values())]:
        out[k] += 1
    return out


def stratified_sample(pairs: Sequence[PreferencePair], n: int, seed: int = 0) -> list[PreferencePair]:
    """`n` pairs, allocated to subsets in proportion to their size, drawn at random with (seed, subset);
    returned in their original order. All pairs when n >= len(pairs)."""
    if n < 0:
        raise ValueError(f"sample size must be >= 0, got {n}")
    if n >= len(pairs):
        return list(pairs)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[subset_name(p)].append(i)
    keep: list[int] = []
    for name, k in allocate({g: len(idx) for g, idx in groups.items()}, n).items():
        idx = list(groups[name])
        random.Random(f"{seed}:{name}").shuffle(idx)
        keep.extend(idx[:k])
    return [pairs[i] for i in sorted(keep)]


def resolve_path(path: str, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def load_eval_set(
    config: EvalSetConfig,
    root: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    exclude_hashes: set[str] | None = None,
) -> EvalSet:
    """Read a set's files, remove training overlap, sample `limit` (default: the set's own limit) pairs."""
    pairs: list[PreferencePair] = []
    dropped: Counter[str] = Counter()
    for path in config.paths:
        file = resolve_path(path, root)
        if not file.exists():
            raise DataError(
                f"eval set {config.name!r}: {file} not found (data root {root})", source=str(file), field="paths"
            )
        loaded, report = load_pairs_with_report(DataSpec(path=str(file), format=config.format, split=config.split))
        pairs.extend(loaded)
        dropped.update(report.dropped)
    if not pairs:
        raise DataError(f"eval set {config.name!r}: no pairs in {config.paths}", field="paths")
    loaded_count = len(pairs)
    pairs, removed = remove_hashed(pairs, exclude_hashes or set(), config.name)
    sizes = Counter(subset_name(p) for p in pairs)
    n = limit if limit is not None else config.limit
    sample = stratified_sample(pairs, n, seed) if n is not None else pairs
    return EvalSet(config, sample, loaded_count, dict(dropped), removed, dict(sorted(sizes.items())))


def load_suite(
    suite: SuiteConfig | str,
    data_root: str | Path | None = None,
    *,
    limit: int | dict[str, int] | None = None,
    only: Iterable[str] | None = None,
    exclude: Iterable[PreferencePair] = (),
    seed: int | None = None,
) -> dict[str, EvalSet]:
    """Load a suite's sets (all, or the names in `only`), in suite order.

    limit: at most N pairs per set, or {set: N} (sets not named keep their own limit); a seeded stratified
    sample (`seed`, default the suite's). exclude: training pairs, removed from every set by content hash.
    """
    suite = get_suite(suite) if isinstance(suite, str) else suite
    root = resolve_data_root(data_root)
    names = list(only) if only is not None else suite.names
    configs = [suite.set(n) for n in names]  # KeyError names the unknown set
    hashes = {p.content_hash() for p in exclude}
    seed = suite.seed if seed is None else seed
    out = {}
    for config in configs:
        n = limit.get(config.name) if isinstance(limit, dict) else limit
        out[config.name] = load_eval_set(config, root, limit=n, seed=seed, exclude_hashes=hashes)
    return out


# ---- scores --------------------------------------------------------------------------------------


def section_score(accuracies: dict[str, float], weights: dict[str, int]) -> float:
    """RewardBench-style section score: subset accuracies weighted by subset size."""
    missing = sorted(set(accuracies) - set(weights))
    if missing:
        raise ValueError(f"no size (weight) for subsets {missing}")
    total = sum(weights[k] for k in accuracies)
    if total <= 0:
        raise ValueError("section score of no pairs")
    return sum(acc * weights[k] for k, acc in accuracies.items()) / total


def subset_accuracies(metrics: dict[str, Any], eval_set: EvalSet) -> dict[str, float]:
    """{subset: accuracy} of one set's metrics (a set without subsets is one subset)."""
    subsets = metrics.get("subsets")
    if subsets:
        return {name: m["accuracy"] for name, m in subsets.items()}
    (only,) = eval_set.subset_sizes or {"(none)": len(eval_set.pairs)}
    return {only: metrics["accuracy"]}


def section_scores(
    metrics: dict[str, dict[str, Any]], sets: dict[str, EvalSet], *, key: str | None = None
) -> dict[str, float]:
    """{section: score} over the sets that name a section; `key` (e.g. "implicit") reads nested metrics."""
    accs: dict[str, dict[str, float]] = defaultdict(dict)
    weights: dict[str, dict[str, int]] = defaultdict(dict)
    for name, m in metrics.items():
        section = sets[name].config.section
        m = m.get(key) if key else m
        if section is None or m is None:
            continue
        for sub, acc in subset_accuracies(m, sets[name]).items():
            accs[section][f"{name}/{sub}"] = acc
            weights[section][f"{name}/{sub}"] = sets[name].subset_sizes.get(sub, 0)
    return {s: section_score(accs[s], weights[s]) for s in accs}


def add_set_section_score(metrics: dict[str, Any], eval_set: EvalSet) -> None:
    """A set with several subsets gets `section_score` (size-weighted subset accuracy), also for `implicit`."""
    for m in (metrics, metrics.get("implicit")):
        if m and len(m.get("subsets") or {}) > 1:
            m["section_score"] = section_score(subset_accuracies(m, eval_set), eval_set.subset_sizes)


def evaluate_suite(
    scorer: Any,
    sets: dict[str, EvalSet],
    *,
    batch_size: int = 16,
    prior: str | None = "length",
    embedder: Any = None,
    reference_name: str | None = None,
    trunk_cache: Any = None,
) -> dict[str, Any]:
    """Evaluate one scorer on every set (shared-prefix packed rows): {"metrics": {set: metrics},
    "sections": {section: score},
    "implicit_sections": {...} (scorers with an implicit reward), "margins": {set: [primary margin per pair]}}.

    The implicit reward's reference log-probs come from the on-disk cache of `precompute_reference_logps`
    (keyed by the reference weights and token ids), so several DPO / HaF checkpoints with the same reference
    pay for the reference pass once. `reference_name` defaults to the checkpoint's recorded reference model.
    `trunk_cache` (models/trunk_cache.py TrunkCache of the base model a top_layers checkpoint was trained
    from): run only the top layers on cached bottom-layer states; a checkpoint with other bottom layers is refused.
    """
    from rewardkit.evaluation.evaluate import evaluate_set

    metrics: dict[str, dict[str, Any]] = {}
    margins: dict[str, list[float]] = {}
    for name, eval_set in sets.items():
        encoded = scorer.encoder().encode_all(eval_set.pairs, desc=f"encoding {name}")
        collate = None
        if trunk_cache is not None:
            trunk_cache.ensure(scorer.model, encoded, batch_size=batch_size)
            collate = trunk_cache.collator(scorer.tokenizer.pad_token_id)
        original = scorer.reference
        scorer.reference = cached_reference(scorer, encoded, batch_size, reference_name, trunk_cache)
        try:
            m, points = evaluate_set(
                scorer,
                eval_set.pairs,
                name=name,
                batch_size=batch_size,
                prior=prior,
                embedder=embedder,
                encoded=encoded,
                packed=True,
                collate=collate,
            )
        finally:
            scorer.reference = original
        add_set_section_score(m, eval_set)
        metrics[name] = m
        margins[name] = [round(x, 5) for x in points.margins]
    out: dict[str, Any] = {"metrics": metrics, "sections": section_scores(metrics, sets), "margins": margins}
    if any("implicit" in m for m in metrics.values()):
        out["implicit_sections"] = section_scores(metrics, sets, key="implicit")
    return out


def cached_reference(
    scorer: Any, encoded: list[Any], batch_size: int, reference_name: str | None, trunk_cache: Any = None
) -> Any:
    """The scorer's reference as precomputed (disk-cached) log-probs on `encoded`, when it is a frozen model
    with a known name; otherwise the scorer's reference unchanged. A `trunk_cache` whose trunk the reference
    shares skips its bottom layers."""
    import torch

    from rewardkit.data.packing import PackedPairCollator
    from rewardkit.models.reference import FrozenModelReference, PrecomputedReference, precompute_reference_logps

    name = reference_name or scorer.metadata.get("reference_model")
    if not isinstance(scorer.reference, FrozenModelReference) or not name or not encoded:
        return scorer.reference
    frozen = scorer.reference.frozen
    device = "cuda" if torch.cuda.is_available() else "cpu"
    frozen.to(device)
    dtype = str(next(frozen.parameters()).dtype).removeprefix("torch.")
    collate = PackedPairCollator(pad_token_id=0)
    if trunk_cache is not None and trunk_cache.matches(frozen):
        trunk_cache.ensure(frozen, encoded, batch_size=batch_size)
        collate = trunk_cache.collator(pad_token_id=0)
    precompute_reference_logps(
        frozen, encoded, collate, model_name=name, dtype=dtype, batch_size=batch_size, device=device
    )
    return PrecomputedReference()


def checkpoint_training_pairs(names: Iterable[str]) -> list[PreferencePair]:
    """The training pairs of exported checkpoints (the `train_entries` of their rewardkit.json), for
    removing train/test overlap; entries that cannot be read again are skipped with a warning."""
    from rewardkit.data.sources import SUITE, load_entry
    from rewardkit.models.loading import read_metadata
    from rewardkit.models.registry import ModelResolutionError, resolve_model

    pairs: list[PreferencePair] = []
    for name in names:
        try:
            meta = read_metadata(resolve_model(name))
        except (ModelResolutionError, OSError):
            continue
        entries = meta.get("train_entries")
        if entries is None:
            if meta.get("train_data"):
                log.warning(
                    "%s records no train_entries: its training overlap cannot be removed (use --exclude-train)", name
                )
            continue
        for entry in entries:
            if entry == SUITE or (isinstance(entry, dict) and entry.get("path") == SUITE):
                continue  # the built-in synthetic suite never overlaps real eval data
            try:
                pairs.extend(load_entry(entry))
            except (DataError, OSError) as e:
                log.warning("%s: cannot read training entry %s to remove overlap (%s)", name, entry, e)
    return pairs
