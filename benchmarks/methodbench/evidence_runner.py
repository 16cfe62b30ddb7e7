"""Running the evidence preset: one (scenario, arm, seed) trained with rewardkit, its test sets scored in-process
(after the last epoch, or after every epoch) on the frozen-trunk cache, its record written to
benchmarks/results/records/evidence/<scenario>/<arm>-s<seed>.json and reused while its settings are unchanged.

No checkpoints and no export: the test metrics and per-pair margins are taken from the model in memory at the
end of each scored epoch, which is what `final` and (with validation) `best` checkpoint mean in the records.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rewardkit.files import write_json_atomic

from .evidence import (
    EVIDENCE_RECORDS,
    Scenario,
    ScenarioData,
    arm_objective,
    build_data,
    scenario_settings,
    test_pair_info,
    tight_mean_delta,
)
from .machine import hardware
from .presets import ENCODING, TRUNK_CACHE_DIR, check_encoding, duration, encoding_of
from .runner import drop_checkpoints

METRIC_KEYS = ("accuracy", "margin_mean", "margin_std", "ece", "strength_spearman", "strength_kendall")
MANIFEST = "test_sets.json"


# ---- records ------------------------------------------------------------------------------------------------


def run_fingerprint(
    scenario: Scenario, arm: str, seed: int, objective: dict[str, Any], head_init: str, model: str
) -> str:
    payload = json.dumps([scenario_settings(scenario), arm, objective, head_init, seed, model], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def record_path(records_dir: Path, scenario: str, arm: str, seed: int) -> Path:
    return records_dir / scenario / f"{arm}-s{seed}.json"


def find_record(path: Path, fingerprint: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record.get("fingerprint") == fingerprint:
        return record
    if encoding_of(record) != ENCODING:
        print(
            f"[{path.parent.name}/{path.stem}] recorded with encoding {encoding_of(record)}, this code encodes "
            f"with {ENCODING}: not reused",
            flush=True,
        )
        return None
    print(
        f"[{path.parent.name}/{path.stem}] recorded with other settings ({record.get('fingerprint')} != "
        f"{fingerprint}): not reused",
        flush=True,
    )
    return None


def training_split(scenario: Scenario, pairs: list[Any]) -> tuple[list[Any], list[Any]]:
    """The train / validation split run_training makes (data.split_seed 0: validation seed 1)."""
    from rewardkit.data.sources import split_pairs

    if scenario.scope.validation_fraction <= 0:
        return list(pairs), []
    return split_pairs(pairs, scenario.scope.validation_fraction, 1)


def encoding_config(scenario: Scenario) -> Any:
    """The encoding of the scenario's training (run_training's default reward position, presets.ENCODING) for the
    manifest and the test sets."""
    from rewardkit.data.encoding import EncodingConfig

    return EncodingConfig(max_length=scenario.scope.max_length, reward_position=ENCODING)


def encoder_for(scenario: Scenario, model: str) -> Any:
    from rewardkit.data.encoding import PairEncoder
    from rewardkit.models.loading import load_tokenizer

    return PairEncoder(load_tokenizer(model), encoding_config(scenario))


def write_manifest(scenario: Scenario, data: ScenarioData, records_dir: Path, model: str) -> dict[str, Any]:
    """The test pairs' per-pair information (hash, chosen longer, strength, length similarity), which the
    claims read next to the margins. Written once per scenario; the same on every machine."""
    from rewardkit.data.priors import length_ratio

    encoder = encoder_for(scenario, model)
    sets = {}
    for name, pairs in data.tests.items():
        info = test_pair_info(pairs)
        for item, e in zip(info, encoder.encode_all(pairs)):
            item["similarity"] = round(length_ratio(e.chosen_ids, e.rejected_ids), 5)
        sets[name] = info
    train, validation = training_split(scenario, data.train)
    manifest = {
        "scenario": scenario.name,
        "description": scenario.description,
        "encoding": ENCODING,
        "sets": sets,
        "train_pairs": len(train),
        "validation_pairs": len(validation),
        "mean_delta": tight_mean_delta(encoder.encode_all(train)),
    }
    write_json_atomic(records_dir / scenario.name / MANIFEST, manifest, indent=None)
    return manifest


# ---- test-set scoring during training ----------------------------------------------------------------------


class TestSetScorer(TrainerCallback):
    """Scores the test sets with the model being trained, at the end of every epoch (per_epoch) or of the last:
    metrics per set (accuracy, margin spread, ECE, rank correlation with preference strength) and per-pair
    margins, keyed by the global step."""

    def __init__(
        self,
        tests: dict[str, list[Any]],
        *,
        scenario: Scenario,
        implicit: bool,
        beta: float,
        model: str,
        trunk_dir: Path,
    ):
        self.tests = tests
        self.scenario = scenario
        self.implicit = implicit  # the primary score is the implicit reward (DPO arms)
        self.beta = beta
        self.model_name = model
        self.trunk_dir = trunk_dir
        self.history: list[dict[str, Any]] = []
        self.margins: dict[int, dict[str, list[float | None]]] = {}
        self.seconds = 0.0

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, processing_class: Any = None, **kwargs: Any
    ) -> None:
        from accelerate import Accelerator

        from rewardkit.data.encoding import PairEncoder
        from rewardkit.data.packing import PackedPairCollator
        from rewardkit.models.reference import precompute_reference_logps
        from rewardkit.models.trunk_cache import TrunkCache

        started = time.time()
        encoder = PairEncoder(processing_class, encoding_config(self.scenario))
        self.encoded = {name: encoder.encode_all(pairs, desc=f"encoding {name}") for name, pairs in self.tests.items()}
        if self.scenario.scope.tuning == "top_layers":  # the frozen bottom layers once per test pair
            cache = TrunkCache.for_model(model, self.scenario.scope.top_layers, self.trunk_dir)
            for encoded in self.encoded.values():
                cache.ensure(model, encoded, batch_size=self.scenario.scope.eval_batch_size)
            self.collate = cache.collator(processing_class.pad_token_id, self.scenario.scope.row_tokens)
        else:
            self.collate = PackedPairCollator(
                pad_token_id=processing_class.pad_token_id, row_tokens=self.scenario.scope.row_tokens
            )
        if self.implicit:  # the model at the start is the reference: its log-probs, disk-cached like training's
            for encoded in self.encoded.values():
                precompute_reference_logps(
                    model,
                    encoded,
                    self.collate,
                    model_name=self.model_name,
                    dtype="float32",
                    batch_size=self.scenario.scope.eval_batch_size,
                )
        self.accelerator = Accelerator()
        self.seconds += time.time() - started

    def on_epoch_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        last = round(state.epoch) >= math.ceil(args.num_train_epochs)
        if self.scenario.scope.per_epoch or last:
            self.score(model, state)

    def score(self, model: Any, state: Any) -> None:
        from rewardkit.evaluation.evaluate import metrics_from_scores
        from rewardkit.evaluation.scoring import score_pairs
        from rewardkit.models.reference import PrecomputedReference

        started = time.time()
        was_training = model.training
        sets, margins = {}, {}
        for name, encoded in self.encoded.items():
            scores = score_pairs(
                model,
                encoded,
                self.collate,
                batch_size=self.scenario.scope.eval_batch_size,
                reward_head=not self.implicit,
                reference=PrecomputedReference() if self.implicit else None,
                beta=self.beta if self.implicit else None,
                accelerator=self.accelerator,
                desc=f"scoring {name}",
            )
            metrics = metrics_from_scores(scores, self.tests[name])
            bias = metrics.get("length_bias") or {}
            sets[name] = {
                **{k: metrics.get(k) for k in METRIC_KEYS},
                "accuracy_chosen_longer": bias.get("accuracy_chosen_longer"),
                "accuracy_chosen_shorter": bias.get("accuracy_chosen_shorter"),
            }
            chosen, rejected = (
                (scores.implicit_chosen, scores.implicit_rejected)
                if self.implicit
                else (scores.chosen, scores.rejected)
            )
            per_pair: list[float | None] = [None] * len(self.tests[name])
            for i, m in zip(scores.index.tolist(), (chosen - rejected).tolist()):
                per_pair[i] = round(m, 5)
            margins[name] = per_pair
        model.train(was_training)
        self.history.append({"epoch": round(state.epoch, 3), "step": state.global_step, "sets": sets})
        self.margins[state.global_step] = margins
        self.seconds += time.time() - started
        print(
            f"  epoch {state.epoch:.0f}: " + " ".join(f"{n}={m['accuracy']:.3f}" for n, m in sets.items()), flush=True
        )


# ---- one run --------------------------------------------------------------------------------------------------


def run_config(
    scenario: Scenario,
    objective: dict[str, Any],
    head_init: str,
    seed: int,
    train_file: Path,
    out_dir: Path,
    steps_per_epoch: int,
    trunk_dir: Path,
    model: str,
) -> Any:
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.objective import ObjectiveConfig
    from rewardkit.training.config import DataConfig, RunConfig, TrainConfig

    s = scenario.scope
    validate = s.validation_fraction > 0
    return RunConfig(
        model=ModelConfig(
            name=model,
            tuning=s.tuning,
            top_layers=s.top_layers,
            head_init=head_init,
            untie_lm_head=s.untie_lm_head,
            dtype="float32" if s.tuning == "top_layers" else "auto",
            cache_trunk=s.tuning == "top_layers",
            trunk_cache_dir=str(trunk_dir),
        ),
        data=DataConfig(
            train=[str(train_file)],
            eval=[],
            heldout_fraction=0.0,
            validation_fraction=s.validation_fraction,
            split_seed=0,
            max_length=s.max_length,
            row_tokens=s.row_tokens,
        ),
        objective=ObjectiveConfig(**dict(objective)),
        training=TrainConfig(
            output_dir=str(out_dir),
            num_epochs=s.epochs,
            batch_size=s.batch_size,
            eval_batch_size=s.eval_batch_size,
            learning_rate=s.learning_rate,
            seed=seed,
            logging_steps=steps_per_epoch,
            eval_steps=steps_per_epoch if validate else None,
            save_steps=10**9,
            save_total_limit=None,
            select_best=False,
            report_to=[],
            eval_before=False,
            export=False,
        ),
    )


def epoch_log(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Training-log entries (one per epoch: logging_steps = steps per epoch) and validation entries."""
    keep = (
        "epoch",
        "step",
        "loss",
        "accuracy",
        "margin",
        "bound_reached",
        "implicit_accuracy",
        "implicit_margin",
        "bound_reached_policy",
        "eval_accuracy",
        "eval_implicit_accuracy",
        "eval_loss",
    )
    return [
        {k: round(v, 5) if isinstance(v, float) else v for k, v in e.items() if k in keep}
        for e in log_history
        if "loss" in e or "eval_loss" in e
    ]


def best_validation_step(log_history: list[dict[str, Any]], implicit: bool) -> int | None:
    key = "eval_implicit_accuracy" if implicit else "eval_accuracy"
    evals = [(e[key], -e["step"]) for e in log_history if key in e]
    return -max(evals)[1] if evals else None  # the earliest step of the best validation accuracy


def train_arm(
    scenario: Scenario,
    arm: str,
    seed: int,
    data: ScenarioData,
    manifest: dict[str, Any],
    runs_dir: Path,
    records_dir: Path,
    model: str,
    fingerprint: str,
) -> dict[str, Any]:
    from rewardkit.data.loading import save_pairs
    from rewardkit.training.run import run_training

    objective, head_init = arm_objective(arm, manifest["mean_delta"])
    train_file = runs_dir / "data" / f"{scenario.name}-train.jsonl"
    if not train_file.exists():
        save_pairs(data.train, train_file)
    n_train = manifest["train_pairs"]
    steps_per_epoch = max(1, math.ceil(n_train / scenario.scope.batch_size))
    trunk_dir = runs_dir / TRUNK_CACHE_DIR
    out_dir = runs_dir / scenario.name / f"{arm}-s{seed}"
    cfg = run_config(scenario, objective, head_init, seed, train_file, out_dir, steps_per_epoch, trunk_dir, model)
    implicit = objective["objective"] == "dpo"
    scorer = TestSetScorer(
        data.tests,
        scenario=scenario,
        implicit=implicit,
        beta=objective.get("beta", 0.1),
        model=model,
        trunk_dir=trunk_dir,
    )
    print(
        f"[{scenario.name} {arm} seed {seed}] training {n_train} pairs x {scenario.scope.epochs:g} epochs", flush=True
    )
    started = time.time()
    summary = run_training(cfg, callbacks=[scorer])
    seconds = time.time() - started
    history = summary["log_history"]
    final_step = scorer.history[-1]["step"]
    record = {
        "scenario": scenario.name,
        "arm": arm,
        "seed": seed,
        "fingerprint": fingerprint,
        "encoding": ENCODING,
        "model": model,
        "objective": objective,
        "head_init": head_init,
        "train_pairs": n_train,
        "validation_pairs": manifest["validation_pairs"],
        "steps": final_step,
        "run_seconds": round(seconds, 1),
        "test_seconds": round(scorer.seconds, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M"),
        "hardware": hardware()["label"],
        "log": epoch_log(history),
        "test": scorer.history,
        "margins": {"final": {"step": final_step, **scorer.margins[final_step]}},
    }
    best = best_validation_step(history, implicit)
    if best is not None and best in scorer.margins:
        record["margins"]["best"] = {"step": best, **scorer.margins[best]}
    write_json_atomic(record_path(records_dir, scenario.name, arm, seed), record, indent=None)
    drop_checkpoints(out_dir)  # the trainer's resume checkpoint (about 0.6-0.9 GB a run); the record is the result
    del scorer, summary
    gc.collect()
    accs = " ".join(f"{n}={m['accuracy']:.3f}" for n, m in record["test"][-1]["sets"].items())
    print(f"[{scenario.name} {arm} seed {seed}] {duration(seconds)}: {accs}", flush=True)
    return record


# ---- the preset ------------------------------------------------------------------------------------------------


def run_evidence(
    scenarios: list[Scenario],
    root: Path,
    runs_dir: Path,
    model: str,
    command: str,
    records_dir: Path = EVIDENCE_RECORDS,
    time_limit_minutes: float | None = None,
    costs: Any = None,
) -> dict[str, Any]:
    """Train every (scenario, arm, seed) not yet recorded, in scenario order, a seed's arms together (so a partial
    scenario has whole seeds of every arm); with a time limit, a run predicted to end past it is not started."""
    from .costs import CostModel, estimate_evidence, predicted_evidence_seconds

    check_encoding()
    started = time.time()
    deadline = started + 60 * time_limit_minutes if time_limit_minutes else None
    prepared = {}
    for scenario in scenarios:
        data = build_data(scenario, root)
        manifest = write_manifest(scenario, data, records_dir, model)
        prepared[scenario.name] = (data, manifest)
    predicted = estimate_evidence(scenarios, root, costs or CostModel(), model) if deadline else None
    done_marks = runs_dir / "done"
    ran, reused, pending = [], [], []
    for scenario in scenarios:
        data, manifest = prepared[scenario.name]
        for seed in scenario.seeds:
            for arm in scenario.arms:
                objective, head_init = arm_objective(arm, manifest["mean_delta"])
                fingerprint = run_fingerprint(scenario, arm, seed, objective, head_init, model)
                path = record_path(records_dir, scenario.name, arm, seed)
                name = f"{scenario.name}/{arm}/s{seed}"
                if find_record(path, fingerprint) is not None:
                    reused.append(name)
                    continue
                need = None
                if deadline is not None:  # the run with the one-off passes it is the first to need
                    need = predicted_evidence_seconds(predicted, scenario.name, arm, done_marks)
                    left = deadline - time.time()
                    if need > left:
                        print(
                            f"[{name}] not started: predicted {duration(need)}, {duration(max(left, 0))} left",
                            flush=True,
                        )
                        pending.append(name)
                        continue
                    print(f"[{name}] predicted {duration(need)}, {duration(left)} left", flush=True)
                record = train_arm(scenario, arm, seed, data, manifest, runs_dir, records_dir, model, fingerprint)
                mark_done(done_marks, scenario.name, arm)
                ran.append(
                    {
                        "run": name,
                        "seconds": record["run_seconds"],
                        "predicted": round(need, 1) if need is not None else None,
                    }
                )
    return {
        "preset": "evidence",
        "encoding": ENCODING,
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "created": time.strftime("%Y-%m-%d %H:%M"),
        "wall_seconds": round(time.time() - started, 1),
        "hardware": hardware(),
        "ran": ran,
        "reused": len(reused),
        "pending": pending,
    }


def mark_done(marks: Path, scenario: str, arm: str) -> None:
    """Remember (in this machine's runs dir) which one-off passes are cached now: the scenario's frozen trunk,
    the reference log-probs of its training pairs (arms with a reference) and of its test pairs (DPO arms)."""
    from .costs import evidence_passes

    marks.mkdir(parents=True, exist_ok=True)
    for kind in evidence_passes(arm):
        (marks / f"{scenario}.{kind}").touch()
