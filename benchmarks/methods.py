"""Method benchmark: BT, DPO, HaF, PCRM (length), PCRM (cosine) and HaF+PCRM trained from the same base model
with the same data, budget and seeds, checkpoints selected on a validation split carved from the training
data, all evaluated on the same pairs of the standard eval suite (evaluation/suites.py).

  python benchmarks/methods.py --quick                 # = --preset quick: a smoke run (< 20 min, 2-core CPU)
  python benchmarks/methods.py --preset hh1k           # HaF / PCRM issues: 1k HH pairs, 2 seeds (CPU)
  python benchmarks/methods.py --preset standard       # the method benchmark (CPU, long: see --estimate)
  python benchmarks/methods.py --preset standard --time-limit 150   # ... as much of it as fits in 150 min
  python benchmarks/methods.py --preset session        # the same methods and suite sized for one 3-hour CPU sitting
  python benchmarks/methods.py --preset gpu            # the same on a GPU with a larger budget
  python benchmarks/methods.py --estimate              # predicted wall time of every preset, from token counts
  python benchmarks/methods.py --estimate --measure    # ... with per-token costs measured on this machine now
  python benchmarks/methods.py --render                # regenerate docs/results.md from the JSON files present

Presets (PRESETS below) fix data, budget, methods, seeds and eval-set sizes. Every run writes
runs/methods/<preset>/<method>-s<seed>/benchmark_run.json; a rerun reuses the runs whose settings are
unchanged, so a killed benchmark continues where it stopped. Presets too long for one sitting (standard, gpu)
also keep each finished run's record under benchmarks/results/records/<preset>/ (small JSON, committed), so the
same command continues on another machine; `--time-limit MINUTES` starts no run predicted to end past the limit
and writes the results of the runs done so far, marked partial. Results: benchmarks/results/methods-<preset>.json,
and the preset's section of docs/results.md (between its BEGIN/END markers; the rest of the file is kept)
with charts under docs/results/methods-<preset>/. The last printed line is

  methods <preset> best=<method> <set>=<accuracy> ... mean=<accuracy>

(the method with the best mean accuracy over the eval sets, and its accuracy per set, mean over seeds).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rewardkit.files import write_json_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs"
RESULTS_MD = DOCS / "results.md"
RUNS = REPO / "runs" / "methods"
RECORDS = RESULTS / "records"  # committed run records of presets with shared_records
TRUNK_CACHE_DIR = "trunk-cache"  # under a preset's runs dir: shared by its runs and their evaluations

log = logging.getLogger("rewardkit.benchmarks")

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

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("quick", "Smoke run of the whole pipeline: 128 training pairs, tiny eval samples. Numbers are noise.",
           train=((REJECTION, 160),), validation_fraction=0.2,
           budget=Budget(max_length=192, evals_per_epoch=2),
           eval_limits={"hh-helpful": 24, "hh-harmless": 24, "llmbar-natural": 12, "llmbar-adversarial": 24,
                        "pandalm": 16, "ultrafeedback": 12, "tldr": 16},
           seeds=(0,)),
    Preset("hh1k", "HaF / PCRM issues: the first 1,000 pairs of HH helpful-rejection-sampled test (90% train, "
                   "10% validation), 500 pairs each of HH helpful-base and harmless-base test.",
           train=((REJECTION, 1000),), validation_fraction=0.1,
           budget=Budget(max_length=256),
           eval_limits={"hh-helpful": 500, "hh-harmless": 500}),
    Preset("standard", "The method benchmark on CPU: HH helpful-online + helpful-rejection-sampled test "
                       "(about 3.85k pairs, 6% validation), top 2 layers, max length 384, 16 pairs per step, "
                       "the standard suite subsampled (~1.6k pairs). About 5 h on 2 CPU cores: run it in one "
                       "sitting, or in several with --time-limit (run records are kept in the repository).",
           train=((ONLINE, None), (REJECTION, None)), validation_fraction=0.06,
           budget=Budget(top_layers=2, max_length=384, batch_size=16),
           eval_limits={"hh-helpful": 300, "hh-harmless": 300, "llmbar-natural": None, "llmbar-adversarial": None,
                        "pandalm": 200, "ultrafeedback": None, "tldr": 200}, shared_records=True),
    Preset("session", "The standard benchmark scaled to one 3-hour CPU session (the standard preset takes 5+ h "
                      "here): the first 300 helpful-online + 400 helpful-rejection-sampled test pairs (90% train, "
                      "10% validation), top 2 layers, max length 256, the standard suite subsampled (~1.1k pairs).",
           train=((ONLINE, 300), (REJECTION, 400)), validation_fraction=0.1,
           budget=Budget(top_layers=2, max_length=256),
           eval_limits={"hh-helpful": 200, "hh-harmless": 200, "llmbar-natural": None, "llmbar-adversarial": 200,
                        "pandalm": 150, "ultrafeedback": 100, "tldr": 150}),
    Preset("gpu", "The method benchmark on a GPU: full fine-tuning, max length 512, all training pairs, the "
                  "full standard suite, 3 seeds.",
           train=((ONLINE, None), (REJECTION, None)), validation_fraction=0.06,
           budget=Budget(tuning="full", max_length=512, batch_size=16, epochs=2, learning_rate=1e-5,
                         eval_batch_size=32),
           eval_limits={s: None for s in ALL_SETS}, seeds=(0, 1, 2), hardware="gpu", shared_records=True),
)}
PRESET_ORDER = ("standard", "gpu", "session", "hh1k", "quick")


# ---- one run -----------------------------------------------------------------------------------------

def run_fingerprint(preset: Preset, method: str, seed: int) -> str:
    """What one run's result depends on: not the preset's other methods and seeds, so that a preset split
    over several invocations (--methods / --seeds) reuses the runs already done."""
    settings = {k: v for k, v in asdict(preset).items()
                if k not in ("methods", "seeds", "description", "shared_records")}
    payload = json.dumps([settings, method, seed, METHODS[method]], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def run_config(preset: Preset, method: str, seed: int, root: Path, out_dir: Path, eval_steps: int,
               trunk_cache_dir: Path | None = None) -> Any:
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.objective import ObjectiveConfig
    from rewardkit.training.config import DataConfig, RunConfig, TrainConfig

    b = preset.budget
    return RunConfig(
        model=ModelConfig(name=preset.model, tuning=b.tuning, top_layers=b.top_layers, dtype="float32",
                          cache_trunk=b.uses_trunk_cache,
                          trunk_cache_dir=str(trunk_cache_dir) if trunk_cache_dir and b.uses_trunk_cache else None),
        data=DataConfig(train=preset.train_entries(root), eval=[], heldout_fraction=0.0,
                        validation_fraction=preset.validation_fraction, split_seed=0, max_length=b.max_length),
        objective=ObjectiveConfig(**METHODS[method]),
        training=TrainConfig(output_dir=str(out_dir), num_epochs=b.epochs, batch_size=b.batch_size,
                             eval_batch_size=b.eval_batch_size, learning_rate=b.learning_rate, seed=seed,
                             logging_steps=10, eval_steps=eval_steps, select_best=True, save_total_limit=2,
                             report_to=[], eval_before=False, export=True))


def steps_per_run(preset: Preset, train_pairs: int) -> int:
    return max(1, math.ceil(math.ceil(train_pairs / preset.budget.batch_size) * preset.budget.epochs))


def validation_history(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    keys = ("eval_accuracy", "eval_implicit_accuracy", "eval_loss")
    return [{"step": e["step"], **{k.removeprefix("eval_"): e[k] for k in keys if k in e}}
            for e in log_history if "eval_loss" in e]


def record_files(runs_dir: Path, records_dir: Path | None, method: str, seed: int) -> list[Path]:
    """Where a run's record may be: its run directory, then the shared records directory."""
    own = runs_dir / f"{method}-s{seed}" / "benchmark_run.json"
    return [own] + ([records_dir / f"{method}-s{seed}.json"] if records_dir is not None else [])


def find_record(preset: Preset, method: str, seed: int, runs_dir: Path, records_dir: Path | None
                ) -> tuple[dict[str, Any], Path] | None:
    """A finished run with the current settings (matching fingerprint), if one is recorded."""
    fingerprint = run_fingerprint(preset, method, seed)
    for path in record_files(runs_dir, records_dir, method, seed):
        if path.exists():
            record = json.loads(path.read_text())
            if record.get("fingerprint") == fingerprint:
                return record, path
            print(f"[{method} seed {seed}] {path} has other settings (fingerprint "
                  f"{record.get('fingerprint')} != {fingerprint}): not reused", flush=True)
    return None


def cache_dirs() -> dict[str, Path]:
    """The disk caches (in REWARDKIT_HOME) whose one-off passes some methods need; the frozen-trunk cache is
    per run directory (TRUNK_CACHE_DIR)."""
    from rewardkit.models.embedder import embedding_cache_dir
    from rewardkit.models.reference import reference_cache_dir

    return {"reference": reference_cache_dir(), "embeddings": embedding_cache_dir()}


def caches_needed(method: str) -> list[str]:
    """reference: log-probs of the frozen reference (DPO, HaF); embeddings: sentence embeddings (cosine prior)."""
    return ((["reference"] if METHODS[method]["objective"] != "bt" else [])
            + (["embeddings"] if METHODS[method].get("prior") == "cosine" else []))


def used_cache_files(kind: str, since: float) -> list[str]:
    """Files of a cache written or reused (reuse marks them, see rewardkit.files.mark_used) since `since`."""
    directory = cache_dirs()[kind]
    files = [f for f in directory.iterdir() if f.is_file() and not f.name.startswith(".")] if directory.is_dir() else []
    return sorted(f.name for f in files if f.stat().st_mtime >= since - 1)


def cache_present(record: dict[str, Any], kind: str) -> bool:
    """Whether every file of a cache that a recorded run used is on this machine (its pass would be reused)."""
    names = (record.get("caches") or {}).get(kind) or []
    directory = cache_dirs()[kind]
    return bool(names) and all((directory / name).exists() for name in names)


def train_and_evaluate(preset: Preset, method: str, seed: int, root: Path, sets: dict[str, Any], runs_dir: Path,
                       split: tuple[int, int], keep_checkpoints: bool, records_dir: Path | None = None
                       ) -> dict[str, Any]:
    """Train one (method, seed), reload its selected export, evaluate it on the sets; the record is written to
    the run directory (and to `records_dir` when given), where `find_record` finds it while the settings are
    unchanged."""
    from rewardkit.evaluation.evaluate import load_scorer
    from rewardkit.evaluation.suites import evaluate_suite
    from rewardkit.training.run import run_training

    out_dir = runs_dir / f"{method}-s{seed}"
    fingerprint = run_fingerprint(preset, method, seed)
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a stale or half-finished run: start clean
    eval_steps = max(1, math.ceil(steps_per_run(preset, split[0]) / preset.budget.evals_per_epoch / preset.budget.epochs))
    trunk_dir = runs_dir / TRUNK_CACHE_DIR
    cfg = run_config(preset, method, seed, root, out_dir, eval_steps, trunk_dir)
    print(f"[{method} seed {seed}] training ({split[0]} pairs, validation {split[1]}, eval every {eval_steps} steps)",
          flush=True)
    started = time.time()
    summary = run_training(cfg)
    trained = time.time()
    scorer = load_scorer(summary["export"])
    trunk = None
    if preset.budget.uses_trunk_cache:  # the base model's trunk; evaluate_suite verifies the export shares it
        from rewardkit.models.trunk_cache import TrunkCache

        trunk = TrunkCache.for_base_model(preset.model, preset.budget.top_layers, trunk_dir)
    evaluation = evaluate_suite(scorer, sets, batch_size=preset.budget.eval_batch_size, trunk_cache=trunk)
    del trunk
    finished = time.time()
    del scorer
    gc.collect()
    if not keep_checkpoints:
        for checkpoint in out_dir.glob("checkpoint-*"):
            shutil.rmtree(checkpoint)
        shutil.rmtree(out_dir / ".staging", ignore_errors=True)
    record = {"method": method, "seed": seed, "fingerprint": fingerprint, "objective": METHODS[method],
              "train_pairs": split[0], "validation_pairs": split[1], "eval_steps": eval_steps,
              "steps": summary["log_history"][-1].get("step") if summary["log_history"] else None,
              "selected": summary.get("selected"), "validation": validation_history(summary["log_history"]),
              "train_seconds": trained - started, "eval_seconds": finished - trained, "export": summary["export"],
              "finished": time.strftime("%Y-%m-%d %H:%M"), "hardware": hardware()["label"], "evaluation": evaluation}
    if needed := caches_needed(method):  # the one-off passes it needed: see cache_present
        record["caches"] = {kind: used_cache_files(kind, since=started) for kind in needed}
    for path in record_files(runs_dir, records_dir, method, seed):
        write_json_atomic(path, record, indent=1, default=str)
    accs = " ".join(f"{s}={m['accuracy']:.3f}" for s, m in evaluation["metrics"].items())
    print(f"[{method} seed {seed}] train {record['train_seconds']:.0f}s eval {record['eval_seconds']:.0f}s "
          f"selected step {(record['selected'] or {}).get('step')}: {accs}", flush=True)
    return record


# ---- speed probe, hardware -------------------------------------------------------------------------

REFERENCE_FORWARD_MS = 2.2  # speed_probe of SmolLM2-135M fp32 on the idle 2-core CPU (2.12-2.44 ms, 2026-11-30)


def speed_probe(model: str, root: Path, pairs: int = 8, max_length: int = 256) -> dict[str, float]:
    """Forward ms per packed token of `model` on a few HH pairs now (shows how loaded the machine is)."""
    import torch

    from rewardkit.data.loading import DataSpec, load_pairs
    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.packing import PackedPair
    from rewardkit.evaluation.scoring import score_pairs
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.reward_model import ModelConfig

    tokenizer = load_tokenizer(model)
    data = load_pairs(DataSpec(path=str(root / HH / "helpful-base" / "test.jsonl.gz"), limit=pairs))
    encoded = PairEncoder(tokenizer, EncodingConfig(max_length=max_length)).encode_all(data)
    tokens = sum(PackedPair.from_encoded(e).length for e in encoded)
    net = build_reward_model(ModelConfig(name=model, tuning="full"), keep_lm_head=False).requires_grad_(False)
    if torch.cuda.is_available():
        net.cuda()
    start = time.perf_counter()
    score_pairs(net, encoded, None, batch_size=pairs)
    seconds = time.perf_counter() - start
    return {"tokens": tokens, "seconds": seconds, "forward_ms_per_token": 1000 * seconds / tokens}


def hardware() -> dict[str, Any]:
    import torch

    info = {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}
    try:
        load = os.getloadavg()
        info["load_average_at_start"] = [round(x, 2) for x in load]
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    info["label"] = info.get("gpu") or f"CPU, {info['cpu_count']} cores"
    return info


# ---- aggregation ---------------------------------------------------------------------------------

def label(method: str, seed: int) -> str:
    return f"{method}/s{seed}"


def seeds_per_method(report: dict[str, Any]) -> int:
    """Seeds of the method with the fewest (a partial result may have fewer for some methods)."""
    return min((len(members) for members in report["groups"].values()), default=1)


def summarize(report: dict[str, Any], methods: list[str]) -> dict[str, dict[str, float]]:
    """{method: {set: mean accuracy over seeds, ..., "mean": macro mean}}."""
    from rewardkit.evaluation.report import accuracy_table

    table = accuracy_table(report)
    return {m: {c: round(s.mean, 4) for c, s in table[m].items() if "(section)" not in c} for m in methods
            if m in table}


def best_line(preset: str, summary: dict[str, dict[str, float]]) -> str:
    best = max(summary, key=lambda m: summary[m]["mean"])
    cells = " ".join(f"{s}={a:.3f}" for s, a in summary[best].items() if s != "mean")
    return f"methods {preset} best={best} {cells} mean={summary[best]['mean']:.3f}"


# ---- the papers' claims, checked on the results ----------------------------------------------------

def _accuracy_values(report: dict[str, Any], method: str, sets: list[str], implicit: bool = False
                     ) -> list[float] | None:
    """Per seed: mean accuracy over `sets`."""
    members = report["groups"].get(method)
    if not members or not sets:
        return None
    out = []
    for m in members:
        metrics = report["models"][m]["metrics"]
        values = []
        for s in sets:
            if s not in metrics:
                return None
            mm = metrics[s].get("implicit") if implicit else metrics[s]
            if mm is None:
                return None
            values.append(mm["accuracy"])
        out.append(statistics.fmean(values))
    return out


def _scale_values(report: dict[str, Any], method: str) -> list[float] | None:
    """Per seed: margin standard deviation averaged over all sets."""
    members = report["groups"].get(method)
    if not members:
        return None
    return [statistics.fmean(m["margin_std"] for m in report["models"][x]["metrics"].values()) for x in members]


def accuracy_diff_se(pairs: int, seeds: int, p: float = 0.5) -> float:
    """Binomial SE of the difference of two accuracies near `p` on `pairs` pairs each (unpaired, so
    conservative), averaged over `seeds` runs."""
    return math.sqrt(2 * p * (1 - p) / max(pairs, 1) / max(seeds, 1))


def compare(a: list[float] | None, b: list[float] | None, binomial_se: float) -> dict[str, Any] | None:
    """mean(a) - mean(b), with an SE combining `binomial_se` (eval-sample noise) and the seed spread of the
    difference; supported / contradicted when the difference exceeds 2 SE."""
    if not a or not b:
        return None
    diff = statistics.fmean(a) - statistics.fmean(b)
    se = binomial_se
    if len(a) == len(b) and len(a) > 1:
        se = math.sqrt(se ** 2 + statistics.variance([x - y for x, y in zip(a, b)]) / len(a))
    verdict = "supported" if diff > 2 * se else "contradicted" if diff < -2 * se else "inconclusive (within 2 SE)"
    return {"difference": diff, "se": se, "verdict": verdict}


SCALE_TOLERANCE = 0.9  # reward scale "constrained": margin std below 90% of BT's for every seed


def claim_checks(report: dict[str, Any], in_distribution: list[str], seeds: int) -> list[dict[str, Any]]:
    """The papers' claims as comparisons on one preset's results (only those its methods allow)."""
    sets = list(report["sets"])
    ind = [s for s in sets if s in in_distribution]
    ood = [s for s in sets if s not in in_distribution]
    k = seeds
    size = lambda ss: sum(report["sets"][s]["pairs"] for s in ss)  # noqa: E731
    se_all, se_ood, se_ind = (accuracy_diff_se(size(ss), k) for ss in (sets, ood, ind))
    acc = lambda m, ss=sets, imp=False: _accuracy_values(report, m, ss, imp)  # noqa: E731
    checks = []

    def add(claim: str, source: str, result: dict[str, Any] | None, detail: str) -> None:
        if result is not None:
            checks.append({"claim": claim, "paper": source, "detail": detail, **result})

    add("HaF beats BT (mean accuracy, all sets)", "HaF-RM", compare(acc("haf"), acc("bt"), se_all), "haf - bt")
    add("HaF beats DPO (mean accuracy, all sets)", "HaF-RM", compare(acc("haf"), acc("dpo"), se_all), "haf - dpo")
    if ood:
        add("DPO generalises worse out of distribution than BT", "HaF-RM",
            compare(acc("bt", ood), acc("dpo", ood), se_ood), f"bt - dpo on {', '.join(ood)}")
        add("DPO generalises worse out of distribution than HaF", "HaF-RM",
            compare(acc("haf", ood), acc("dpo", ood), se_ood), f"haf - dpo on {', '.join(ood)}")
    if ind and ood:
        bt_i, dpo_i, bt_o, dpo_o = acc("bt", ind), acc("dpo", ind), acc("bt", ood), acc("dpo", ood)
        if None not in (bt_i, dpo_i, bt_o, dpo_o):
            gap_o = [b - d for b, d in zip(bt_o, dpo_o)]
            gap_i = [b - d for b, d in zip(bt_i, dpo_i)]
            add("DPO's deficit vs BT is larger out of than in distribution", "HaF-RM",
                compare(gap_o, gap_i, math.hypot(se_ood, se_ind)),
                "(bt - dpo) OOD - (bt - dpo) ID")
    for method in ("pcrm-length", "pcrm-cosine"):
        base, ours = _scale_values(report, "bt"), _scale_values(report, method)
        if base and ours:
            ratio = statistics.fmean(ours) / statistics.fmean(base)
            per_seed = [o / b for o, b in zip(ours, base)] if len(ours) == len(base) else [ratio]
            verdict = ("supported" if all(r < SCALE_TOLERANCE for r in per_seed) else
                       "contradicted" if all(r > 1 / SCALE_TOLERANCE for r in per_seed) else
                       f"no clear difference (some seed within ±{1 - SCALE_TOLERANCE:.0%})")
            checks.append({"claim": f"{method} constrains reward scale (margin std below BT's)", "paper": "PCRM",
                           "detail": f"margin std {method} / bt, mean over sets", "difference": ratio - 1,
                           "se": None, "verdict": verdict, "ratio": ratio})
        add(f"{method} improves accuracy over BT", "PCRM", compare(acc(method), acc("bt"), se_all),
            f"{method} - bt")
    add("HaF+PCRM improves accuracy over HaF", "PCRM", compare(acc("haf-pcrm"), acc("haf"), se_all), "haf-pcrm - haf")
    add("HaF's reward head beats its own implicit reward", "HaF-RM",
        compare(acc("haf"), acc("haf", sets, True), se_all), "haf reward head - haf implicit")
    return checks


def distribution_table(report: dict[str, Any], in_distribution: list[str]) -> str:
    """Per method: mean accuracy in / out of distribution (reward head, and implicit reward where there is
    one), and the margin standard deviation relative to BT's (mean over sets)."""
    from rewardkit.evaluation.report import Stat

    sets = list(report["sets"])
    ind = [s for s in sets if s in in_distribution]
    ood = [s for s in sets if s not in in_distribution]

    def cell(values: list[float] | None) -> str:
        return Stat(tuple(values)).format() if values else "–"

    bt_scale = _scale_values(report, "bt")
    lines = [f"| method | ID accuracy ({', '.join(ind) or '–'}) | OOD accuracy ({len(ood)} sets) | implicit ID | "
             "implicit OOD | margin std (mean over sets) | margin std / BT's |", "|---|---:|---:|---:|---:|---:|---:|"]
    for method in report["groups"]:
        scale = _scale_values(report, method)
        ratio = f"{statistics.fmean(scale) / statistics.fmean(bt_scale):.2f}" if scale and bt_scale else "–"
        implicit = any("implicit" in m for x in report["groups"][method] for m in report["models"][x]["metrics"].values())
        lines.append(f"| {method} | {cell(_accuracy_values(report, method, ind))} | "
                     f"{cell(_accuracy_values(report, method, ood))} | "
                     f"{cell(_accuracy_values(report, method, ind, True)) if implicit else '–'} | "
                     f"{cell(_accuracy_values(report, method, ood, True)) if implicit else '–'} | "
                     f"{cell(scale)} | {ratio} |")
    return "\n".join(lines) + "\n"


# ---- docs/results.md -------------------------------------------------------------------------------

def begin_marker(preset: str) -> str:
    return f"<!-- BEGIN methods:{preset} (generated by benchmarks/methods.py from " \
           f"benchmarks/results/methods-{preset}.json; edits inside are overwritten) -->"


def end_marker(preset: str) -> str:
    return f"<!-- END methods:{preset} -->"


def replace_section(document: str, preset: str, body: str) -> str:
    """Put `body` between the preset's markers (appended at the end when the markers are missing)."""
    begin, end = begin_marker(preset), end_marker(preset)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(f"<!-- BEGIN methods:{preset} ") + r".*?" + re.escape(end), re.S)
    if pattern.search(document):
        return pattern.sub(lambda _: block, document, count=1)
    return document.rstrip() + "\n\n" + block + "\n"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 5400 else f"{seconds / 60:.1f} min"


def preset_section(result: dict[str, Any], chart_dir: Path, docs_dir: Path = DOCS) -> str:
    """The markdown of one preset's results (charts written to `chart_dir`, linked relative to `docs_dir`)."""
    from rewardkit.evaluation.report import render_markdown, write_charts

    report, p = result["report"], result["preset"]
    charts = write_charts(report, chart_dir)
    links = {k: path.relative_to(docs_dir).as_posix() for k, path in charts.items()}
    b = result["budget"]
    tuning = f"top {b['top_layers']} of 30 layers" if b["tuning"] == "top_layers" else b["tuning"]
    train = ", ".join(f"{t['path']}" + (f" (first {t['limit']})" if t.get("limit") else "") for t in result["train"])
    probe = result.get("speed_probe") or {}
    probe_text = ""
    if probe.get("forward_ms_per_token") and result["model"] == PRESETS[p].model:  # the reference's model
        factor = probe["forward_ms_per_token"] / REFERENCE_FORWARD_MS
        probe_text = (f" Speed probe during the run: {probe['forward_ms_per_token']:.2f} ms per token forward "
                      f"(uncontended reference {REFERENCE_FORWARD_MS} ms), i.e. the machine ran about {factor:.1f}x "
                      f"slower than when idle; wall time scaled to an idle machine ≈ "
                      f"{_duration(result['wall_seconds'] / max(factor, 1.0))}.")
    lines = [f"## Preset `{p}` — {result['hardware']['label']}\n", result["description"] + "\n",
             "| setting | value |", "|---|---|",
             f"| command | `{result['command']}` |",
             f"| model | {result['model']}, fp32, {tuning} (+ reward head), max length {b['max_length']} |",
             f"| training data | {train} |",
             f"| split | {result['split']['train']} train / {result['split']['validation']} validation pairs "
             f"(validation carved from the training data by prompt; checkpoint = best validation accuracy of "
             f"{b['evals_per_epoch']} per epoch) |",
             f"| budget | {b['epochs']:g} epoch(s), {b['batch_size']} pairs per step, AdamW lr {b['learning_rate']:g}, "
             f"linear decay, 5% warm-up; the same for every method |",
             f"| methods | {', '.join(result['methods'])} (HaF alpha 0.2, beta 0.1; PCRM default bounds) |",
             f"| seeds | {', '.join(map(str, result['seeds']))} (cells: mean ± sd over seeds) |",
             f"| hardware | {result['hardware']['label']} ({result['hardware'].get('processor', '')}, torch "
             f"{result['hardware'].get('torch', '')}) |",
             f"| wall time | {_duration(result['wall_seconds'])} for this invocation ({result['created']})"
             + (f"; the runs' own training + evaluation time, summed: {_duration(result['run_seconds_total'])}"
                if "run_seconds_total" in result else "") + " |", "",
             probe_text.strip() + "\n" if probe_text else ""]
    if result.get("pending"):
        done = sum(len(v) for v in report["groups"].values())
        lines += [f"**Partial result: {done} of {done + len(result['pending'])} runs done.** Pending (not started "
                  f"within the time limit): {', '.join(result['pending'])}. Rerunning the command continues "
                  "from the recorded runs.\n"]
    lines += ["### In and out of distribution\n",
              f"In distribution (ID): {', '.join(result['in_distribution'])} (closest to the training data); "
              "out of distribution (OOD): the other sets; accuracies are unweighted means over sets.\n",
              distribution_table(report, result["in_distribution"]), ""]
    lines.append(render_markdown(report, charts=links, heading="###"))
    lines += ["\n### Runs\n", "| run | train | eval | selected step (validation acc) | validation accuracy over steps |",
              "|---|---:|---:|---|---|"]
    for name, run in result["runs"].items():
        sel = run.get("selected") or {}
        val = sel.get("validation_accuracy", sel.get("validation_implicit_accuracy"))
        history = ", ".join(f"{h['step']}: {h.get('accuracy', h.get('implicit_accuracy', float('nan'))):.3f}"
                            for h in run["validation"])
        lines.append(f"| {name} | {_duration(run['train_seconds'])} | {_duration(run['eval_seconds'])} | "
                     f"{sel.get('step', '–')} ({'–' if val is None else f'{val:.3f}'}) | {history} |")
    checks = claim_checks(report, result["in_distribution"], seeds_per_method(report))
    if checks:
        lines += ["\n### The papers' claims on these results\n",
                  "Difference of mean accuracy (or margin-std ratio − 1 for reward scale); SE combines the "
                  "binomial error of the eval pairs with the seed spread; a claim is *supported* when the "
                  "difference exceeds 2 SE in its direction; reward scale is *constrained* when the margin std "
                  f"is below {SCALE_TOLERANCE:.0%} of BT's for every seed.\n",
                  "| claim | paper | compared | difference | SE | verdict |", "|---|---|---|---:|---:|---|"]
        for c in checks:
            se = "" if c.get("se") is None else f"{c['se']:.3f}"
            lines.append(f"| {c['claim']} | {c['paper']} | {c['detail']} | {c['difference']:+.3f} | {se} | "
                         f"{c['verdict']} |")
    return "\n".join(lines) + "\n"


def render_docs(results_dir: Path = RESULTS, document: Path = RESULTS_MD) -> list[str]:
    """Regenerate the section of every preset whose JSON exists; returns the presets rendered."""
    text = document.read_text() if document.exists() else "# Results\n"
    rendered = []
    files = {f.stem.removeprefix("methods-"): f for f in results_dir.glob("methods-*.json")}
    order = [p for p in PRESET_ORDER if p in files] + sorted(set(files) - set(PRESET_ORDER))
    for name in order:
        result = json.loads(files[name].read_text())
        chart_dir = document.parent / "results" / f"methods-{name}"
        text = replace_section(text, name, preset_section(result, chart_dir, document.parent))
        rendered.append(name)
    write_text_atomic(document, text)
    return rendered


# ---- wall-time estimate -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CostModel:
    """Per-token costs of the base model (ms). Defaults: SmolLM2-135M fp32 on the 2-core CPU, uncontended."""

    # Calibrated on the session preset's run (2026-11-30, idle machine): the frozen-trunk passes ran at
    # 2.27-2.39 ms per token through 28 of 30 layers; a top-2 BT step over 2.1k tokens took 1.09 s; DPO's
    # LM-head term added 1.53 ms per response token per training epoch (forward + backward).
    forward_ms: float = 2.5  # no-grad forward, per token the model runs on (large batches)
    full_train_ms: float = 5.5  # forward + backward through every layer (16 x <=512-token sequences: ~35 s a step)
    layers: int = 30
    lm_head_share: float = 0.31  # LM-head cost per response position relative to a token's body forward
    step_overhead_s: float = 0.3  # per optimizer step, independent of depth (optimizer, collation, logging)
    run_overhead_s: float = 25.0  # model load, checkpoint saves, export, reload, per run
    # all-MiniLM-L6-v2 (cosine prior), per prompt + response text (truncated at 256 word pieces): the standard
    # preset's first PCRM-cosine run (cold cache, 7,698 texts) took 5.0-6.2 min longer than the warm PCRM-cosine
    # seed 1 and PCRM-length runs, 39-48 ms per text (2026-11-30)
    embed_text_ms: float = 45.0

    def train_ms(self, budget: Budget) -> float:
        if budget.tuning == "top_layers":
            return self.forward_ms + budget.top_layers / self.layers * (self.full_train_ms - self.forward_ms)
        return self.full_train_ms


def measure_costs(preset: Preset, root: Path, steps: int = 3) -> CostModel:
    """Measure this machine now: no-grad forward and BT training step of the preset's model and budget on
    its own training pairs, in ms per packed token (one warm-up step each is not timed)."""
    import torch

    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.packing import PackedPair, pair_collator
    from rewardkit.data.sources import load_entries
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.losses import bradley_terry_loss

    b = preset.budget
    tokenizer = load_tokenizer(preset.model)
    pairs = load_entries(preset.train_entries(root))[: b.batch_size * (steps + 1)]
    encoded = PairEncoder(tokenizer, EncodingConfig(max_length=b.max_length)).encode_all(pairs)
    batches = [encoded[i:i + b.batch_size] for i in range(0, len(encoded), b.batch_size)]
    collate = pair_collator(tokenizer.pad_token_id)
    model = build_reward_model(ModelConfig(name=preset.model, tuning=b.tuning, top_layers=b.top_layers),
                               keep_lm_head=False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=b.learning_rate)

    def timed(train: bool) -> float:
        tokens, seconds = 0, 0.0
        for i, batch in enumerate(batches):
            start = time.perf_counter()
            with torch.set_grad_enabled(train):
                rewards = model(**collate(batch), need_rewards=True, need_logps=False)["rewards"]
                if train:
                    bradley_terry_loss(*rewards.chunk(2)).mean().backward()
                    optimizer.step()
                    optimizer.zero_grad()
            if i:  # the first batch warms up
                seconds += time.perf_counter() - start
                tokens += sum(PackedPair.from_encoded(e).length for e in batch)
        return 1000 * seconds / tokens

    model.eval()
    forward = timed(False)
    model.train()
    train = timed(True)
    k = b.top_layers / CostModel.layers if b.tuning == "top_layers" else 1.0
    full = forward + max(train - forward, 0.0) / k  # so that CostModel.train_ms(budget) == the measured step
    print(f"measured on {preset.model} ({preset.name} budget): forward {forward:.2f} ms/token, "
          f"training step {train:.2f} ms/token", flush=True)
    return CostModel(forward_ms=forward, full_train_ms=full, step_overhead_s=0.0)  # overhead is in the measurement


def _token_counts(encoded: list[Any]) -> dict[str, int]:
    from rewardkit.data.packing import PackedPair

    packed = sum(PackedPair.from_encoded(e).length for e in encoded)  # training, validation and evaluate_suite
    responses = sum(len(e.chosen_ids) + len(e.rejected_ids) for e in encoded)
    return {"pairs": len(encoded), "packed": packed, "responses": responses}


def estimate(preset: Preset, root: Path, costs: CostModel) -> dict[str, Any]:
    """Predicted wall time of a preset (seconds) from its token counts, without and with a frozen-trunk cache."""
    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.sources import load_entries, split_pairs
    from rewardkit.evaluation.suites import load_suite
    from rewardkit.models.loading import load_tokenizer

    b = preset.budget
    tokenizer = load_tokenizer(preset.model)
    encoder = PairEncoder(tokenizer, EncodingConfig(max_length=b.max_length))
    pairs = load_entries(preset.train_entries(root))
    train, val = split_pairs(pairs, preset.validation_fraction, 1)
    t, v = _token_counts(encoder.encode_all(train)), _token_counts(encoder.encode_all(val))
    sets = load_suite("standard", root, limit=preset.eval_limits, only=list(preset.eval_limits), exclude=pairs)
    e = [_token_counts(encoder.encode_all(s.pairs)) for s in sets.values()]
    ev = {k: sum(x[k] for x in e) for k in e[0]}
    f, lm = costs.forward_ms / 1000, costs.forward_ms * costs.lm_head_share / 1000
    train_ms = costs.train_ms(b) / 1000
    policy = {m: METHODS[m]["objective"] != "bt" for m in preset.methods}  # has an LM-head term
    per_run = {}
    for m in preset.methods:
        has_lm = policy[m]
        train_s = (b.epochs * (t["packed"] * train_ms + (2 * lm * t["responses"] if has_lm else 0))
                   + costs.step_overhead_s * steps_per_run(preset, t["pairs"]))
        val_s = b.evals_per_epoch * b.epochs * (v["packed"] * f + (lm * v["responses"] if has_lm else 0))
        eval_s = ev["packed"] * f + (lm * ev["responses"] if has_lm else 0)
        per_run[m] = {"train": train_s, "validation": val_s, "eval": eval_s, "overhead": costs.run_overhead_s}
    once = 0.0
    if any(policy.values()):  # reference log-probs: training + validation pairs, eval sets (disk cache)
        once += (t["packed"] + v["packed"]) * f + (t["responses"] + v["responses"]) * lm
        once += ev["packed"] * f + ev["responses"] * lm
    embeddings_once = 0.0
    if any("embeddings" in caches_needed(m) for m in preset.methods):  # prompt + response, chosen and rejected
        embeddings_once = 2 * (t["pairs"] + v["pairs"]) * costs.embed_text_ms / 1000
    runs = sum(sum(r.values()) for r in per_run.values()) * len(preset.seeds)
    total = runs + once + embeddings_once
    # frozen-trunk cache: bottom layers once per pair, then only the top k layers per run and evaluation
    cached, cached_per_run, trunk_once, reference_once = None, None, 0.0, once
    if b.tuning == "top_layers":
        share = b.top_layers / costs.layers
        trunk_once = (t["packed"] + v["packed"] + ev["packed"]) * f * (1 - share)
        cached_per_run = {m: (r["train"] - b.epochs * t["packed"] * f * (1 - share))
                          + (r["validation"] + r["eval"]) * share + r["overhead"] for m, r in per_run.items()}
        ref_trunk = (t["packed"] + v["packed"] + ev["packed"]) * f * (1 - share) if any(policy.values()) else 0.0
        reference_once = once - ref_trunk  # the reference passes reuse the trunk too
        cached = trunk_once + sum(cached_per_run.values()) * len(preset.seeds) + reference_once + embeddings_once
    return {"preset": preset.name, "train_tokens": t, "validation_tokens": v, "eval_tokens": ev,
            "per_run_seconds": per_run, "once_seconds": once + embeddings_once,
            "runs": len(preset.methods) * len(preset.seeds), "total_seconds": total, "with_trunk_cache_seconds": cached,
            "cached_per_run_seconds": cached_per_run, "trunk_once_seconds": trunk_once,
            "reference_once_seconds": reference_once, "embeddings_once_seconds": embeddings_once}


def predicted_run_seconds(estimate_: dict[str, Any], method: str, trunk_done: bool,
                          done: dict[str, bool] | None = None) -> float:
    """One run's predicted wall time from `estimate`, with the one-off passes it would be first to need
    (`done`: cache kind -> its pass is cached already)."""
    cached = estimate_["cached_per_run_seconds"]
    seconds = cached[method] if cached else sum(estimate_["per_run_seconds"][method].values())
    if cached and not trunk_done:
        seconds += estimate_["trunk_once_seconds"]
    for kind in caches_needed(method):
        if not (done or {}).get(kind):
            seconds += estimate_[f"{kind}_once_seconds"]
    return seconds


def print_estimates(presets: list[Preset], root: Path, costs: CostModel) -> None:
    print(f"cost model: forward {costs.forward_ms:.2f} ms/token, full training {costs.full_train_ms:.2f} ms/token, "
          f"LM head {costs.lm_head_share:.2f}x per response position, {costs.step_overhead_s:.2f}s per step, "
          f"{costs.run_overhead_s:.0f}s overhead per run")
    print("| preset | runs | train tok/epoch | eval tok | per BT run | per DPO/HaF run | once | total | "
          "total with trunk cache |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for preset in presets:
        name = preset.name
        e = estimate(preset, root, costs)
        runs = e["per_run_seconds"]
        bt = next((sum(r.values()) for m, r in runs.items() if METHODS[m]["objective"] == "bt"), 0.0)
        po = next((sum(r.values()) for m, r in runs.items() if METHODS[m]["objective"] != "bt"), 0.0)
        cached = "–" if e["with_trunk_cache_seconds"] is None else _duration(e["with_trunk_cache_seconds"])
        print(f"| {name} | {e['runs']} | {e['train_tokens']['packed']:,} | {e['eval_tokens']['packed']:,} | "
              f"{_duration(bt)} | {_duration(po)} | {_duration(e['once_seconds'])} | {_duration(e['total_seconds'])} "
              f"| {cached} |", flush=True)


# ---- the benchmark -------------------------------------------------------------------------------------

def run_preset(preset: Preset, root: Path, runs_dir: Path, keep_checkpoints: bool, command: str,
               records_dir: Path | None = None, time_limit_minutes: float | None = None) -> dict[str, Any]:
    """Train and evaluate every (method, seed) of the preset not yet recorded, and aggregate. With a time limit,
    a run predicted (estimate) to end past it is not started: the result then covers the runs done so far and
    lists the others as pending."""
    from rewardkit.data.sources import load_entries, split_pairs
    from rewardkit.evaluation.report import suite_results
    from rewardkit.evaluation.suites import load_suite

    started = time.time()
    info = hardware()
    probe_before = speed_probe(preset.model, root) if preset.hardware == "cpu" else None
    train_pairs = load_entries(preset.train_entries(root))
    train, validation = split_pairs(train_pairs, preset.validation_fraction, 1)  # as prepare_data (split_seed + 1)
    sets = load_suite("standard", root, limit=preset.eval_limits, only=list(preset.eval_limits), exclude=train_pairs)
    print(f"preset {preset.name}: {len(train)} train / {len(validation)} validation pairs; eval "
          + ", ".join(f"{n}={len(s.pairs)} (overlap removed {s.overlap_removed})" for n, s in sets.items()), flush=True)
    deadline = started + 60 * time_limit_minutes if time_limit_minutes else None
    predicted = estimate(preset, root, CostModel()) if deadline else None
    trunk_done = any((runs_dir / TRUNK_CACHE_DIR).glob("*.safetensors"))
    recorded = {(m, s): find_record(preset, m, s, runs_dir, records_dir) for s in preset.seeds for m in preset.methods}
    # the one-off passes cached in REWARDKIT_HOME are done when a recorded run's files are all there
    done = {kind: any(found is not None and cache_present(found[0], kind) for found in recorded.values())
            for kind in cache_dirs()}
    runs: dict[str, dict[str, Any]] = {}
    pending: list[str] = []
    for seed in preset.seeds:
        for method in preset.methods:
            name = label(method, seed)
            found = recorded[method, seed]
            if found is not None:
                print(f"[{method} seed {seed}] reusing {found[1]}", flush=True)
                runs[name] = found[0]
                continue
            if deadline is not None:
                need = predicted_run_seconds(predicted, method, trunk_done, done)
                left = deadline - time.time()
                if need > left:
                    print(f"[{method} seed {seed}] not started: predicted {_duration(need)}, "
                          f"{_duration(max(left, 0))} left of the time limit", flush=True)
                    pending.append(name)
                    continue
                print(f"[{method} seed {seed}] predicted {_duration(need)}, {_duration(left)} left", flush=True)
            runs[name] = train_and_evaluate(preset, method, seed, root, sets, runs_dir,
                                            (len(train), len(validation)), keep_checkpoints, records_dir)
            trunk_done = True  # this invocation has run the one-off passes (a reused record may have run them elsewhere)
            done.update({kind: True for kind in caches_needed(method)})
            gc.collect()
    if not runs:
        raise SystemExit(f"preset {preset.name}: no run fits in the time limit and none is recorded yet")
    probe_after = speed_probe(preset.model, root) if preset.hardware == "cpu" else None
    groups = {m: [label(m, s) for s in preset.seeds if label(m, s) in runs] for m in preset.methods}
    groups = {m: members for m, members in groups.items() if members}
    report = suite_results({k: r["evaluation"] for k, r in runs.items()}, sets, suite="standard", data_root=root,
                           groups=groups)
    probe = None
    if probe_before and probe_after:
        probe = {"before": probe_before, "after": probe_after,
                 "forward_ms_per_token": (probe_before["forward_ms_per_token"] + probe_after["forward_ms_per_token"]) / 2}
    result = {
        "preset": preset.name, "description": preset.description, "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M"), "hardware": info, "model": preset.model,
        "budget": asdict(preset.budget), "train": preset.train_entries(Path(".")),
        "split": {"train": len(train), "validation": len(validation)}, "methods": list(preset.methods),
        "seeds": list(preset.seeds), "in_distribution": list(preset.in_distribution),
        "wall_seconds": time.time() - started, "speed_probe": probe, "pending": pending,
        "run_seconds_total": sum(r["train_seconds"] + r["eval_seconds"] for r in runs.values()),
        "summary": summarize(report, list(groups)),
        "runs": {k: {x: v for x, v in r.items() if x != "evaluation"} for k, r in runs.items()},
        "report": report,
    }
    result["claims"] = claim_checks(report, list(preset.in_distribution), seeds_per_method(report))
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None)
    parser.add_argument("--quick", action="store_true", help="= --preset quick")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=None, help="override the preset's")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="override the preset's")
    parser.add_argument("--model", default=None, help="override the base model (alias, directory)")
    parser.add_argument("--data-root", default=None, help="default: $REWARDKIT_DATA or ../shared/data")
    parser.add_argument("--runs-dir", default=None, help="default: runs/methods/<preset>")
    parser.add_argument("--results-dir", default=str(RESULTS))
    parser.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                        help="start no run predicted to end past this many minutes; write the results so far")
    parser.add_argument("--records-dir", default=None,
                        help="also keep / reuse run records here (default for standard and gpu: "
                             "benchmarks/results/records/<preset>; 'none' to disable)")
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep training checkpoints (exports are kept)")
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate docs/results.md")
    parser.add_argument("--estimate", action="store_true", help="print predicted wall times instead of running")
    parser.add_argument("--forward-ms", type=float, default=CostModel.forward_ms, help="--estimate: ms/token forward")
    parser.add_argument("--train-ms", type=float, default=CostModel.full_train_ms,
                        help="--estimate: ms/token full fine-tuning (forward + backward)")
    parser.add_argument("--measure", action="store_true",
                        help="--estimate: measure the per-token costs on this machine now (about a minute)")
    parser.add_argument("--render", action="store_true", help="only regenerate docs/results.md from the JSON files")
    args = parser.parse_args(argv)
    if args.quick:
        if args.preset not in (None, "quick"):
            parser.error("--quick and --preset disagree")
        args.preset = "quick"
    if not (args.preset or args.estimate or args.render):
        parser.error("give --preset NAME, --quick, --estimate or --render")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from rewardkit.evaluation.suites import resolve_data_root

    if args.render:
        print("rendered presets:", ", ".join(render_docs(Path(args.results_dir))) or "none")
        return 0
    root = resolve_data_root(args.data_root)
    overrides: dict[str, Any] = {}
    if args.methods:
        overrides["methods"] = tuple(args.methods)
    if args.seeds:
        overrides["seeds"] = tuple(args.seeds)
    if args.model:
        overrides["model"] = args.model
    if args.estimate:
        names = [args.preset] if args.preset else [p for p in PRESET_ORDER if PRESETS[p].hardware == "cpu"]
        presets = [replace(PRESETS[n], **overrides) for n in names]
        costs = CostModel(forward_ms=args.forward_ms, full_train_ms=args.train_ms)
        if args.measure:
            costs = measure_costs(presets[0], root)
        print_estimates(presets, root, costs)
        return 0
    preset = replace(PRESETS[args.preset], **overrides)
    runs_dir = Path(args.runs_dir) if args.runs_dir else RUNS / preset.name
    command = "python benchmarks/methods.py " + " ".join(sys.argv[1:] if argv is None else argv)
    records_dir = (None if args.records_dir == "none" else Path(args.records_dir) if args.records_dir
                   else RECORDS / preset.name if preset.shared_records else None)
    result = run_preset(preset, root, runs_dir, args.keep_checkpoints, command.strip(), records_dir,
                        args.time_limit)
    results_dir = Path(args.results_dir)
    out = write_json_atomic(results_dir / f"methods-{preset.name}.json", result, indent=1, default=str)
    print(f"wrote {out}")
    if not args.no_docs:
        render_docs(results_dir)
        print(f"wrote {RESULTS_MD}")
    print_summary(result)
    print(best_line(preset.name, result["summary"]), flush=True)
    return 0


def print_summary(result: dict[str, Any]) -> None:
    summary = result["summary"]
    sets = [s for s in next(iter(summary.values())) if s != "mean"]
    print("| method | " + " | ".join(sets) + " | mean |")
    print("|---|" + "---:|" * (len(sets) + 1))
    for method, row in summary.items():
        print(f"| {method} | " + " | ".join(f"{row[s]:.3f}" for s in sets) + f" | {row['mean']:.3f} |")
    for c in result.get("claims") or []:
        print(f"claim: {c['claim']}: {c['difference']:+.3f} → {c['verdict']}")
    if result.get("pending"):
        print(f"partial: {len(result['pending'])} runs pending ({', '.join(result['pending'])})")
    print(f"wall time {_duration(result['wall_seconds'])}")


if __name__ == "__main__":
    sys.exit(main())
