"""Running a preset: each (method, seed) trained with rewardkit, its selected export evaluated on the preset's
eval sets, its record kept (run directory, and benchmarks/results/records/<preset>/ for shared presets) and
reused while its settings are unchanged; a time limit starts no run predicted to end past it."""

from __future__ import annotations

import gc
import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rewardkit.files import write_json_atomic

from .costs import CostModel, estimate, predicted_run_seconds
from .machine import hardware, speed_probe
from .presets import (
    ENCODING,
    METHODS,
    TRUNK_CACHE_DIR,
    Preset,
    caches_needed,
    check_encoding,
    duration,
    label,
    repo_relative,
    steps_per_run,
)
from .report import claim_checks, seeds_per_method, summarize


def run_fingerprint(preset: Preset, method: str, seed: int) -> str:
    """What one run's result depends on: not the preset's other methods and seeds, so that a preset split
    over several invocations (--methods / --seeds) reuses the runs already done. The encoding (where the reward
    is read) is part of it: runs recorded with another encoding are never reused."""
    settings = {
        k: v for k, v in asdict(preset).items() if k not in ("methods", "seeds", "description", "shared_records")
    }
    payload = json.dumps([settings, method, seed, METHODS[method], ENCODING], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def run_config(
    preset: Preset,
    method: str,
    seed: int,
    root: Path,
    out_dir: Path,
    eval_steps: int,
    trunk_cache_dir: Path | None = None,
) -> Any:
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.objective import ObjectiveConfig
    from rewardkit.training.config import DataConfig, RunConfig, TrainConfig

    b = preset.budget
    return RunConfig(
        model=ModelConfig(
            name=preset.model,
            tuning=b.tuning,
            top_layers=b.top_layers,
            dtype="float32",
            cache_trunk=b.uses_trunk_cache,
            trunk_cache_dir=str(trunk_cache_dir) if trunk_cache_dir and b.uses_trunk_cache else None,
        ),
        data=DataConfig(
            train=preset.train_entries(root),
            eval=[],
            heldout_fraction=0.0,
            validation_fraction=preset.validation_fraction,
            split_seed=0,
            max_length=b.max_length,
        ),
        objective=ObjectiveConfig(**METHODS[method]),
        training=TrainConfig(
            output_dir=str(out_dir),
            num_epochs=b.epochs,
            batch_size=b.batch_size,
            eval_batch_size=b.eval_batch_size,
            learning_rate=b.learning_rate,
            seed=seed,
            logging_steps=10,
            eval_steps=eval_steps,
            select_best=True,
            save_total_limit=2,
            report_to=[],
            eval_before=False,
            export=True,
        ),
    )


def validation_history(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    keys = ("eval_accuracy", "eval_implicit_accuracy", "eval_loss")
    return [
        {"step": e["step"], **{k.removeprefix("eval_"): e[k] for k in keys if k in e}}
        for e in log_history
        if "eval_loss" in e
    ]


def record_files(runs_dir: Path, records_dir: Path | None, method: str, seed: int) -> list[Path]:
    """Where a run's record may be: its run directory, then the shared records directory."""
    own = runs_dir / f"{method}-s{seed}" / "benchmark_run.json"
    return [own] + ([records_dir / f"{method}-s{seed}.json"] if records_dir is not None else [])


def find_record(
    preset: Preset, method: str, seed: int, runs_dir: Path, records_dir: Path | None
) -> tuple[dict[str, Any], Path] | None:
    """A finished run with the current settings (matching fingerprint), if one is recorded."""
    fingerprint = run_fingerprint(preset, method, seed)
    for path in record_files(runs_dir, records_dir, method, seed):
        if path.exists():
            record = json.loads(path.read_text())
            if record.get("fingerprint") == fingerprint:
                return record, path
            print(
                f"[{method} seed {seed}] {path} has other settings (fingerprint "
                f"{record.get('fingerprint')} != {fingerprint}): not reused",
                flush=True,
            )
    return None


def cache_dirs() -> dict[str, Path]:
    """The disk caches (in REWARDKIT_HOME) whose one-off passes some methods need; the frozen-trunk cache is
    per run directory (TRUNK_CACHE_DIR)."""
    from rewardkit.models.embedder import embedding_cache_dir
    from rewardkit.models.reference import reference_cache_dir

    return {"reference": reference_cache_dir(), "embeddings": embedding_cache_dir()}


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


def portable_selected(selected: dict[str, Any] | None) -> dict[str, Any] | None:
    """The selected checkpoint with its path relative to the repository (records are committed)."""
    if not selected or "checkpoint" not in selected:
        return selected
    return {**selected, "checkpoint": repo_relative(selected["checkpoint"])}


def train_and_evaluate(
    preset: Preset,
    method: str,
    seed: int,
    root: Path,
    sets: dict[str, Any],
    runs_dir: Path,
    split: tuple[int, int],
    keep_checkpoints: bool,
    records_dir: Path | None = None,
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
    eval_steps = max(
        1, math.ceil(steps_per_run(preset, split[0]) / preset.budget.evals_per_epoch / preset.budget.epochs)
    )
    trunk_dir = runs_dir / TRUNK_CACHE_DIR
    cfg = run_config(preset, method, seed, root, out_dir, eval_steps, trunk_dir)
    print(
        f"[{method} seed {seed}] training ({split[0]} pairs, validation {split[1]}, eval every {eval_steps} steps)",
        flush=True,
    )
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
        drop_checkpoints(out_dir)
    record = {
        "method": method,
        "seed": seed,
        "fingerprint": fingerprint,
        "encoding": ENCODING,
        "objective": METHODS[method],
        "train_pairs": split[0],
        "validation_pairs": split[1],
        "eval_steps": eval_steps,
        "steps": summary["log_history"][-1].get("step") if summary["log_history"] else None,
        "selected": portable_selected(summary.get("selected")),
        "validation": validation_history(summary["log_history"]),
        "train_seconds": trained - started,
        "eval_seconds": finished - trained,
        "export": repo_relative(summary["export"]),
        "finished": time.strftime("%Y-%m-%d %H:%M"),
        "hardware": hardware()["label"],
        "evaluation": evaluation,
    }
    if needed := caches_needed(method):  # the one-off passes it needed: see cache_present
        record["caches"] = {kind: used_cache_files(kind, since=started) for kind in needed}
    for path in record_files(runs_dir, records_dir, method, seed):
        write_json_atomic(path, record, indent=1, default=str)
    accs = " ".join(f"{s}={m['accuracy']:.3f}" for s, m in evaluation["metrics"].items())
    print(
        f"[{method} seed {seed}] train {record['train_seconds']:.0f}s eval {record['eval_seconds']:.0f}s "
        f"selected step {(record['selected'] or {}).get('step')}: {accs}",
        flush=True,
    )
    return record


def run_preset(
    preset: Preset,
    root: Path,
    runs_dir: Path,
    keep_checkpoints: bool,
    command: str,
    records_dir: Path | None = None,
    time_limit_minutes: float | None = None,
) -> dict[str, Any]:
    """Train and evaluate every (method, seed) of the preset not yet recorded, and aggregate. With a time limit,
    a run predicted (estimate) to end past it is not started: the result then covers the runs done so far and
    lists the others as pending."""
    from rewardkit.data.sources import load_entries, split_pairs
    from rewardkit.evaluation.report import suite_results
    from rewardkit.evaluation.suites import load_suite

    check_encoding()
    started = time.time()
    info = hardware()
    probe_before = speed_probe(preset.model, root) if preset.hardware == "cpu" else None
    train_pairs = load_entries(preset.train_entries(root))
    train, validation = split_pairs(train_pairs, preset.validation_fraction, 1)  # as prepare_data (split_seed + 1)
    sets = load_suite("standard", root, limit=preset.eval_limits, only=list(preset.eval_limits), exclude=train_pairs)
    print(
        f"preset {preset.name}: {len(train)} train / {len(validation)} validation pairs; eval "
        + ", ".join(f"{n}={len(s.pairs)} (overlap removed {s.overlap_removed})" for n, s in sets.items()),
        flush=True,
    )
    deadline = started + 60 * time_limit_minutes if time_limit_minutes else None
    predicted = estimate(preset, root, CostModel()) if deadline else None
    trunk_done = any((runs_dir / TRUNK_CACHE_DIR).glob("*.safetensors"))
    recorded = {(m, s): find_record(preset, m, s, runs_dir, records_dir) for s in preset.seeds for m in preset.methods}
    # the one-off passes cached in REWARDKIT_HOME are done when a recorded run's files are all there
    done = {
        kind: any(found is not None and cache_present(found[0], kind) for found in recorded.values())
        for kind in cache_dirs()
    }
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
                    print(
                        f"[{method} seed {seed}] not started: predicted {duration(need)}, "
                        f"{duration(max(left, 0))} left of the time limit",
                        flush=True,
                    )
                    pending.append(name)
                    continue
                print(f"[{method} seed {seed}] predicted {duration(need)}, {duration(left)} left", flush=True)
            runs[name] = train_and_evaluate(
                preset, method, seed, root, sets, runs_dir, (len(train), len(validation)), keep_checkpoints, records_dir
            )
            trunk_done = (
                True  # this invocation has run the one-off passes (a reused record may have run them elsewhere)
            )
            done.update(dict.fromkeys(caches_needed(method), True))
            gc.collect()
    if not runs:
        raise SystemExit(f"preset {preset.name}: no run fits in the time limit and none is recorded yet")
    probe_after = speed_probe(preset.model, root) if preset.hardware == "cpu" else None
    groups = {m: [label(m, s) for s in preset.seeds if label(m, s) in runs] for m in preset.methods}
    groups = {m: members for m, members in groups.items() if members}
    report = suite_results(
        {k: r["evaluation"] for k, r in runs.items()},
        sets,
        suite="standard",
        data_root=repo_relative(root),
        groups=groups,
    )
    probe = None
    if probe_before and probe_after:
        probe = {
            "before": probe_before,
            "after": probe_after,
            "forward_ms_per_token": (probe_before["forward_ms_per_token"] + probe_after["forward_ms_per_token"]) / 2,
        }
    result = {
        "preset": preset.name,
        "description": preset.description,
        "command": command,
        "created": time.strftime("%Y-%m-%d %H:%M"),
        "hardware": info,
        "model": preset.model,
        "encoding": ENCODING,
        "budget": asdict(preset.budget),
        "train": preset.train_entries(Path(".")),
        "split": {"train": len(train), "validation": len(validation)},
        "methods": list(preset.methods),
        "seeds": list(preset.seeds),
        "in_distribution": list(preset.in_distribution),
        "wall_seconds": time.time() - started,
        "speed_probe": probe,
        "pending": pending,
        "run_seconds_total": sum(r["train_seconds"] + r["eval_seconds"] for r in runs.values()),
        "summary": summarize(report, list(groups)),
        "runs": {k: {x: v for x, v in r.items() if x != "evaluation"} for k, r in runs.items()},
        "report": report,
    }
    result["claims"] = claim_checks(report, list(preset.in_distribution), seeds_per_method(report))
    return result


def drop_checkpoints(out_dir: Path) -> None:
    """Delete a finished run's training checkpoints and staging folder (the record holds what is reported)."""
    for checkpoint in out_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)
    shutil.rmtree(out_dir / ".staging", ignore_errors=True)
