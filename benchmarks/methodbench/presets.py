"""What the method benchmark compares: the methods, the budget they share, the presets (data, budget,
methods, seeds, eval sets), and where runs, records, results and docs go."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs"
RESULTS_MD = DOCS / "results.md"
RUNS = REPO / "runs" / "methods"
RECORDS = RESULTS / "records"  # committed run records of presets with shared_records
TRUNK_CACHE_DIR = "trunk-cache"  # under a preset's runs dir: shared by its runs and their evaluations

# Where the reward is read (rewardkit.data.encoding.REWARD_POSITIONS). Every run of this code trains and scores
# with ENCODING, the default of the EncodingConfig that run_training builds (checked by `check_encoding`); runs
# recorded before the chat-template contract (issue 18) carry no `encoding` field and read the reward at an EOS
# appended to the bare response (LEGACY_ENCODING). The encoding is part of every run fingerprint and is checked
# when records are read, so records of the two encodings are never reused for, or pooled with, each other.
ENCODING = "conversation_end"
LEGACY_ENCODING = "appended_eos"
ENCODING_TEXT = {
    "conversation_end": "reward read at the last token of the chat-template render of the whole conversation",
    "appended_eos": "reward read at an EOS appended to the bare response (rewardkit's encoding before the "
    "scoring-position contract of docs/architecture.md)",
}


def encoding_of(recorded: dict[str, Any]) -> str:
    """The encoding a record, manifest or result was produced with (no field: before the field existed)."""
    return recorded.get("encoding", LEGACY_ENCODING)


def check_encoding() -> None:
    """Stop before training if rewardkit no longer encodes with ENCODING by default (its records would be
    labelled with an encoding they were not produced with)."""
    from rewardkit.data.encoding import EncodingConfig

    used = EncodingConfig().reward_position
    if used != ENCODING:
        raise SystemExit(
            f"rewardkit encodes with reward_position={used!r}, the method benchmark records "
            f"{ENCODING!r}: update methodbench.presets.ENCODING (and ENCODING_TEXT)"
        )


# ---- what is compared ------------------------------------------------------------------------------

METHODS: dict[str, dict[str, Any]] = {  # name -> ObjectiveConfig fields (papers' defaults otherwise)
    "bt": {"objective": "bt"},
    "dpo": {"objective": "dpo"},
    "haf": {"objective": "haf"},
    "pcrm-length": {"objective": "bt", "prior": "length"},
    "pcrm-cosine": {"objective": "bt", "prior": "cosine"},
    "haf-pcrm": {"objective": "haf", "prior": "length"},
}


@dataclass(frozen=True)
class Budget:
    """How every method of a preset trains (the same for all)."""

    tuning: str = "top_layers"  # top_layers | lora | full
    top_layers: int = 4
    max_length: int = 384
    batch_size: int = 8  # pairs per step
    epochs: float = 1.0
    learning_rate: float = 1e-4
    evals_per_epoch: int = 4  # validation evaluations = checkpoint candidates
    eval_batch_size: int = 16
    cache_trunk: bool = True  # top_layers: frozen bottom-layer states once per pair (models/trunk_cache.py)

    @property
    def uses_trunk_cache(self) -> bool:
        return self.cache_trunk and self.tuning == "top_layers"

    def __post_init__(self) -> None:
        if self.tuning not in ("top_layers", "lora", "full"):
            raise ValueError(f"budget.tuning must be top_layers, lora or full, not {self.tuning!r}")
        if min(self.max_length, self.batch_size, self.evals_per_epoch, self.eval_batch_size) < 1 or self.epochs <= 0:
            raise ValueError(f"budget sizes must be positive: {self}")


@dataclass(frozen=True)
class Preset:
    """Data + budget + methods + seeds + eval sets of one benchmark configuration."""

    name: str
    description: str
    train: tuple[tuple[str, int | None], ...]  # (path under the data root, first N pairs or None)
    validation_fraction: float
    budget: Budget
    eval_limits: dict[str, int | None]  # standard-suite set -> pairs (seeded stratified sample; None = all)
    in_distribution: tuple[str, ...] = ("hh-helpful",)  # eval sets closest to the training data
    methods: tuple[str, ...] = tuple(METHODS)
    seeds: tuple[int, ...] = (0, 1)
    model: str = "smollm2-135m"
    hardware: str = "cpu"  # what the budget is sized for
    shared_records: bool = False  # keep run records under benchmarks/results/records/<preset>/ (resume elsewhere)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown:
            raise ValueError(f"preset {self.name}: unknown methods {unknown}; known: {sorted(METHODS)}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"preset {self.name}: validation_fraction must be in (0, 1)")
        if not self.seeds:
            raise ValueError(f"preset {self.name}: needs at least one seed")

    def train_entries(self, root: Path) -> list[dict[str, Any]]:
        return [{"path": str(root / path), **({"limit": n} if n else {})} for path, n in self.train]


HH = "hh-rlhf"
ONLINE, REJECTION = f"{HH}/helpful-online/test.jsonl.gz", f"{HH}/helpful-rejection-sampled/test.jsonl.gz"
ALL_SETS = ("hh-helpful", "hh-harmless", "llmbar-natural", "llmbar-adversarial", "pandalm", "ultrafeedback", "tldr")

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "quick",
            "Smoke run of the whole pipeline: 128 training pairs, tiny eval samples. Numbers are noise.",
            train=((REJECTION, 160),),
            validation_fraction=0.2,
            budget=Budget(max_length=192, evals_per_epoch=2),
            eval_limits={
                "hh-helpful": 24,
                "hh-harmless": 24,
                "llmbar-natural": 12,
                "llmbar-adversarial": 24,
                "pandalm": 16,
                "ultrafeedback": 12,
                "tldr": 16,
            },
            seeds=(0,),
        ),
        Preset(
            "hh1k",
            "HaF / PCRM issues: the first 1,000 pairs of HH helpful-rejection-sampled test (90% train, "
            "10% validation), 500 pairs each of HH helpful-base and harmless-base test.",
            train=((REJECTION, 1000),),
            validation_fraction=0.1,
            budget=Budget(max_length=256),
            eval_limits={"hh-helpful": 500, "hh-harmless": 500},
        ),
        Preset(
            "standard",
            "The method benchmark on CPU: HH helpful-online + helpful-rejection-sampled test "
            "(about 3.85k pairs, 6% validation), top 2 layers, max length 384, 16 pairs per step, "
            "the standard suite subsampled (~1.6k pairs). About 5 h on 2 CPU cores: run it in one "
            "sitting, or in several with --time-limit (run records are kept in the repository).",
            train=((ONLINE, None), (REJECTION, None)),
            validation_fraction=0.06,
            budget=Budget(top_layers=2, max_length=384, batch_size=16),
            eval_limits={
                "hh-helpful": 300,
                "hh-harmless": 300,
                "llmbar-natural": None,
                "llmbar-adversarial": None,
                "pandalm": 200,
                "ultrafeedback": None,
                "tldr": 200,
            },
            shared_records=True,
        ),
        Preset(
            "session",
            "The standard benchmark scaled to one 3-hour CPU session (the standard preset takes 5+ h "
            "here): the first 300 helpful-online + 400 helpful-rejection-sampled test pairs (90% train, "
            "10% validation), top 2 layers, max length 256, the standard suite subsampled (~1.1k pairs).",
            train=((ONLINE, 300), (REJECTION, 400)),
            validation_fraction=0.1,
            budget=Budget(top_layers=2, max_length=256),
            eval_limits={
                "hh-helpful": 200,
                "hh-harmless": 200,
                "llmbar-natural": None,
                "llmbar-adversarial": 200,
                "pandalm": 150,
                "ultrafeedback": 100,
                "tldr": 150,
            },
        ),
        Preset(
            "gpu",
            "The method benchmark on a GPU: full fine-tuning, max length 512, all training pairs, the "
            "full standard suite, 3 seeds.",
            train=((ONLINE, None), (REJECTION, None)),
            validation_fraction=0.06,
            budget=Budget(
                tuning="full", max_length=512, batch_size=16, epochs=2, learning_rate=1e-5, eval_batch_size=32
            ),
            eval_limits=dict.fromkeys(ALL_SETS),
            seeds=(0, 1, 2),
            hardware="gpu",
            shared_records=True,
        ),
    )
}
PRESET_ORDER = ("standard", "gpu", "session", "hh1k", "quick")


def steps_per_run(preset: Preset, train_pairs: int) -> int:
    return max(1, math.ceil(math.ceil(train_pairs / preset.budget.batch_size) * preset.budget.epochs))


def caches_needed(method: str) -> list[str]:
    """reference: log-probs of the frozen reference (DPO, HaF); embeddings: sentence embeddings (cosine prior)."""
    return (["reference"] if METHODS[method]["objective"] != "bt" else []) + (
        ["embeddings"] if METHODS[method].get("prior") == "cosine" else []
    )


def label(method: str, seed: int) -> str:
    return f"{method}/s{seed}"


def repo_relative(path: str | Path) -> str:
    """A path as committed files hold it: relative to the repository (`../shared/data/...` for the data root
    next to it), never absolute."""
    import os

    return Path(os.path.relpath(Path(path).resolve(), REPO)).as_posix()


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 5400 else f"{seconds / 60:.1f} min"
