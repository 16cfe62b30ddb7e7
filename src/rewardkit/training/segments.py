"""Training segment-level aspect reward models on QA-Feedback (`rewardkit train-segments`).

One run trains one aspect (data/readers/qa_segments.py) on the training questions of the question split:

  relevance | factuality | completeness   a segment model (models/segment_model.py): the backbone with a scalar
      head read at every segment's last token, per-segment BCE (objectives/segments.py), RewardTrainer with
      the usual tuning scopes, packing, frozen-trunk cache, atomic checkpoints and --resume; then metrics on the
      test questions against the majority and text-metric baselines (evaluation/segments.py), and an
      AutoModelForTokenClassification export;
  preference   the holistic RM of the QA ALaRM config: Bradley-Terry on the 6 pairwise labels per question of
      the same training questions (`rewardkit train`'s run, whose data entries are the split's pairs, written
      as explicit JSON lines under <output_dir>/data/ so that its config.yaml reproduces the run).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from accelerate import PartialState
from transformers import set_seed
from transformers.trainer_utils import get_last_checkpoint

from rewardkit.config import save_config, to_dict
from rewardkit.data.batching import pair_batch_sampler
from rewardkit.data.encoding import EncodingConfig
from rewardkit.data.loading import save_pairs
from rewardkit.data.packing import pair_collator
from rewardkit.data.readers.qa_segments import (
    ASPECTS,
    PromptFormat,
    QARecord,
    aspect_spec,
    load_qa_records,
    preference_pairs,
    question_split,
    segment_examples,
)
from rewardkit.data.segment_encoding import IGNORE, EncodedSegments, SegmentCollator, SegmentEncoder
from rewardkit.data.segments import SegmentExample
from rewardkit.evaluation.segments import baseline_metrics, classification_metrics, judged, score_encoded
from rewardkit.files import write_json_atomic, write_text_atomic
from rewardkit.models.loading import load_tokenizer
from rewardkit.models.reward_model import ModelConfig, RewardModel
from rewardkit.models.segment_model import build_segment_model, export_segment_model
from rewardkit.objectives.objective import ObjectiveConfig
from rewardkit.objectives.segments import SegmentObjective, SegmentObjectiveConfig
from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
from rewardkit.training.run import full_weights, run_training, training_arguments
from rewardkit.training.trainer import RewardTrainer

log = logging.getLogger("rewardkit.training")

PREFERENCE = "preference"
SEGMENT_ASPECTS = tuple(ASPECTS)


@dataclass
class SegmentDataConfig:
    """Which QA-Feedback file, aspect and split; how examples are encoded and batched."""

    path: str = "../shared/data/qa-feedback/dev_feedback.json"
    aspect: str = "relevance"  # relevance | factuality | completeness | preference (the holistic pairwise RM)
    test_questions: int = 100  # held out by question (data/readers/qa_segments.py question_split)
    split_seed: int = 0
    validation_questions: int = 0  # carved from the training questions, for eval during training / select_best
    limit: int | None = None  # train on the first N training questions only
    # Also train on predictions without a judged segment (they add no loss): every aspect then encodes the same
    # token sequences, so with model.cache_trunk and a shared trunk_cache_dir the frozen trunk runs once for all.
    keep_unjudged: bool = False
    evaluate: bool = True  # evaluate on the test questions after training (off: a caller scores them itself)
    passages: bool | None = None  # passages in the prompt; None: the aspect's default (relevance: question only)
    max_passage_words: int | None = None  # cut the passages to this many words (None: whole)
    max_length: int = 1024
    max_prompt_length: int | None = None
    use_chat_template: bool = True
    packing: bool = True
    row_tokens: int = 1024
    token_budget: int | None = None
    group_by_length: bool = False

    def __post_init__(self) -> None:
        if self.aspect not in SEGMENT_ASPECTS + (PREFERENCE,):
            raise ValueError(
                f"data.aspect must be one of {', '.join(SEGMENT_ASPECTS + (PREFERENCE,))}, not {self.aspect!r}"
            )
        if self.test_questions < 1 or self.validation_questions < 0:
            raise ValueError("data.test_questions must be >= 1 and data.validation_questions >= 0")

    def prompt_format(self) -> PromptFormat:
        default = aspect_spec(self.aspect).passages if self.aspect in ASPECTS else True
        return PromptFormat(
            passages=default if self.passages is None else self.passages, max_passage_words=self.max_passage_words
        )

    def encoding(self) -> EncodingConfig:
        return EncodingConfig(self.max_length, self.max_prompt_length, self.use_chat_template)


@dataclass
class SegmentRunConfig:
    """`rewardkit train-segments`: model, data, objective and training sections (YAML or flags)."""

    FLAG_NAMES: ClassVar[dict[str, str]] = {"model.name": "model", "data.path": "data"}

    model: ModelConfig = field(default_factory=ModelConfig)
    data: SegmentDataConfig = field(default_factory=SegmentDataConfig)
    objective: SegmentObjectiveConfig = field(default_factory=SegmentObjectiveConfig)
    training: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class QASplit:
    train: list[QARecord]
    validation: list[QARecord]
    test: list[QARecord]


def split_records(d: SegmentDataConfig) -> QASplit:
    """Train / validation / test records; validation questions are a second hash split of the training ones."""
    train = load_qa_records(d.path, "train", test_questions=d.test_questions, seed=d.split_seed)
    test = load_qa_records(d.path, "test", test_questions=d.test_questions, seed=d.split_seed)
    validation: list[QARecord] = []
    if d.validation_questions:
        held = question_split([r.question for r in train], d.validation_questions, d.split_seed + 1)
        validation = [r for r in train if r.question in held]
        train = [r for r in train if r.question not in held]
    if d.limit is not None:
        train = train[: d.limit]
    overlap = {r.question for r in train} & {r.question for r in test + validation}
    if overlap:  # cannot happen with a split by question; a guard against future edits
        raise RuntimeError(f"{len(overlap)} questions are on both sides of the split")
    log.info("qa-feedback split: %d train, %d validation, %d test questions", len(train), len(validation), len(test))
    return QASplit(train, validation, test)


def run_segment_training(cfg: SegmentRunConfig) -> dict[str, Any]:
    """Train one aspect (module docstring); returns the results (also written to <output_dir>/results.json)."""
    if cfg.data.aspect == PREFERENCE:
        return run_preference_training(cfg)
    started = time.time()
    state = PartialState()
    out_dir = Path(cfg.training.output_dir)
    if state.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "config.yaml")
    set_seed(cfg.training.seed)
    d, fmt = cfg.data, cfg.data.prompt_format()
    split = split_records(d)
    source = Path(d.path).name
    train_ex, val_ex = (
        segment_examples(records, d.aspect, fmt, source, d.keep_unjudged) for records in (split.train, split.validation)
    )
    test_ex = segment_examples(split.test, d.aspect, fmt, source, keep_unjudged=True)  # same sequences for all
    tokenizer = load_tokenizer(cfg.model.name)
    encoder = SegmentEncoder(tokenizer, d.encoding())
    train_enc = encoder.encode_all(train_ex, desc="encoding train", keep_unjudged=d.keep_unjudged)
    val_enc = encoder.encode_all(val_ex, desc="encoding validation", keep_unjudged=d.keep_unjudged)
    test_enc = encoder.encode_all(test_ex, desc="encoding test", keep_unjudged=True)
    if not any(label != IGNORE for e in train_enc for label in e.segment_labels):
        raise ValueError("no training example has a judged segment within max_length")

    model = build_segment_model(cfg.model)
    collate = pair_collator(tokenizer.pad_token_id, d.packing, d.row_tokens)
    eval_collate = None
    if cfg.model.cache_trunk:  # frozen bottom layers once per sequence: training, validation and test
        from rewardkit.models.trunk_cache import prepare_trunk_collator

        with state.main_process_first():
            collate = prepare_trunk_collator(
                model,
                train_enc + val_enc,
                top_layers=cfg.model.top_layers,
                pad_token_id=tokenizer.pad_token_id,
                packing=d.packing,
                row_tokens=d.row_tokens,
                directory=cfg.model.trunk_cache_dir,
                batch_size=cfg.training.eval_batch_size,
                device=state.device,
            )
            collate.cache.ensure(
                model, test_enc, batch_size=cfg.training.eval_batch_size, row_tokens=d.row_tokens, device=state.device
            )
        eval_collate = SegmentCollator(collate.cache.collator(tokenizer.pad_token_id, d.row_tokens))
    collate = SegmentCollator(collate)
    questions = {"train": len(split.train), "validation": len(split.validation), "test": len(split.test)}
    results: dict[str, Any] = {
        "config": to_dict(cfg),
        "aspect": d.aspect,
        "granularity": aspect_spec(d.aspect).granularity,
        "questions": questions,
    }
    if cfg.training.eval_before:
        results["before"] = evaluate_segment_model(
            model, test_enc, test_ex, collate=eval_collate, batch_size=cfg.training.eval_batch_size
        )[0]

    args = training_arguments(cfg, bool(val_enc), "accuracy")  # reads cfg.training only
    trainer = SegmentTrainer(
        model=model,
        args=args,
        data_collator=collate,
        train_dataset=train_enc,
        eval_dataset=val_enc or None,
        processing_class=tokenizer,
        objective=SegmentObjective(cfg.objective),
        train_batch_sampler=pair_batch_sampler(
            train_enc,
            packing=d.packing,
            batch_size=cfg.training.batch_size,
            token_budget=d.token_budget,
            group_by_length=d.group_by_length,
            seed=cfg.training.seed,
            num_processes=state.num_processes,
        ),
    )
    train_out = trainer.train(resume_from_checkpoint=resume_checkpoint(cfg.training, out_dir))
    best = trainer.state.best_model_checkpoint
    if cfg.training.select_best and best:
        trainer._load_from_checkpoint(best)
        results["selected"] = {
            "checkpoint": best,
            "step": trainer.state.best_global_step,
            "validation_accuracy": trainer.state.best_metric,
        }
    results["train"] = train_out.metrics
    results["log_history"] = trainer.state.log_history
    if d.evaluate:
        results["after"], scored = evaluate_segment_model(
            model, test_enc, test_ex, collate=eval_collate, batch_size=cfg.training.eval_batch_size
        )
        results["baselines"] = baseline_metrics(train_ex, scored)  # on the segments the model read
    if cfg.training.export:
        with full_weights(trainer, lambda: build_segment_model(cfg.model)) as full:  # collective when sharded
            if state.is_main_process:
                results["export"] = str(
                    export_segment_model(full, tokenizer, out_dir / "export", metadata=export_metadata(cfg, results))
                )
    if state.is_main_process:
        results["seconds"] = time.time() - started
        write_json_atomic(out_dir / "results.json", results, default=str)
        if d.evaluate:
            write_text_atomic(out_dir / "eval.md", segment_report(results))
    state.wait_for_everyone()
    return results


class SegmentTrainer(RewardTrainer):
    """RewardTrainer whose logged metrics are per segment: a batch holds a varying number of them, which
    `gather_for_metrics` would cut at the last batch (it counts one row per example); they are gathered whole
    (padded across processes, the padding dropped)."""

    def _record(self, result: Any, mode: str) -> None:
        def gather(values: torch.Tensor) -> torch.Tensor:
            acc = self.accelerator
            if acc.num_processes == 1:
                return values
            padded = acc.gather(acc.pad_across_processes(values.float(), dim=0, pad_index=float("nan")))
            return padded[~torch.isnan(padded)]

        per_segment = {k: gather(v) for k, v in result.per_pair.items()}
        self._metrics[mode].add(per_segment, gather(result.rewards) if result.rewards is not None else None)


def resume_checkpoint(t: TrainConfig, out_dir: Path) -> str | None:
    """The checkpoint --resume / resume_from points at (None: start from scratch)."""
    if t.resume_from is not None or not t.resume:
        return t.resume_from
    last = get_last_checkpoint(str(out_dir)) if out_dir.exists() else None
    if last is None:
        log.warning("--resume: no checkpoint in %s, starting from scratch", out_dir)
    return last


def evaluate_segment_model(
    model: RewardModel,
    encoded: list[EncodedSegments],
    examples: list[SegmentExample],
    *,
    collate: Any = None,
    batch_size: int = 16,
) -> tuple[dict[str, Any], list[SegmentExample]]:
    """Segment metrics of `model` on the judged segments of `examples` (`encoded`: their encoding; values > 0
    mean "no error"), and the examples with the segments the model did not read (cut by truncation) unjudged,
    for the baselines to be measured on the same segments."""
    values = score_encoded(model, encoded, collate, batch_size=batch_size, desc="scoring test segments")
    per_example = [[values.get(i, {}).get(k) for k in range(len(ex.segments))] for i, ex in enumerate(examples)]
    vs, ys = judged(per_example, examples)
    out = classification_metrics([v > 0 for v in vs], ys, vs)
    out["examples"] = len(examples)
    scored = [
        replace(ex, labels=[y if v is not None else None for y, v in zip(ex.labels or [], vals)])
        for ex, vals in zip(examples, per_example)
    ]
    return out, scored


def export_metadata(cfg: SegmentRunConfig, results: dict[str, Any]) -> dict[str, Any]:
    d = cfg.data
    after = results.get("after") or {}
    return {
        "aspect": d.aspect,
        "granularity": aspect_spec(d.aspect).granularity,
        "prompt_format": d.prompt_format().to_dict(),
        "base_model": cfg.model.name,
        "train_data": [d.path],
        "split": {"test_questions": d.test_questions, "seed": d.split_seed},
        "max_length": d.max_length,
        "use_chat_template": d.use_chat_template,
        "objective_config": to_dict(cfg.objective),
        "metrics": {f"test/{k}": after[k] for k in ("accuracy", "macro_f1", "error_f1", "auroc") if k in after},
    }


def segment_report(results: dict[str, Any]) -> str:
    """Markdown: the model before / after training and the baselines on the test segments."""
    rows = [("model (before training)", results.get("before")), ("model", results.get("after"))]
    rows += [(f"baseline: {name}", m) for name, m in (results.get("baselines") or {}).items()]
    lines = [
        f"aspect: {results['aspect']} ({results['granularity']}), test questions: {results['questions']['test']}",
        "",
        "| scorer | segments | error rate | accuracy | error F1 | macro F1 | AUROC |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in rows:
        if m:
            lines.append(
                f"| {name} | {m['segments']} | {m['error_rate']:.3f} | {m['accuracy']:.3f} | "
                f"{m['error_f1']:.3f} | {m['macro_f1']:.3f} | {m.get('auroc', float('nan')):.3f} |"
            )
    return "\n".join(lines) + "\n"


# ---- the holistic pairwise RM on the same split ---------------------------------------------------------


def run_preference_training(cfg: SegmentRunConfig) -> dict[str, Any]:
    """Bradley-Terry on the preference pairs of the training questions, evaluated on the test questions."""
    d, t = cfg.data, cfg.training
    if d.validation_questions:
        raise ValueError(
            "data.validation_questions applies to segment aspects; the preference RM is a "
            "`rewardkit train` run (validation: --set data.validation_fraction=...)"
        )
    split = split_records(d)
    fmt = d.prompt_format()
    data_dir = Path(t.output_dir) / "data"
    files = {}
    state = PartialState()
    for name, records in (("train", split.train), ("test", split.test)):
        files[name] = str(data_dir / f"{name}.jsonl")
        if state.is_main_process and records:
            save_pairs(preference_pairs(records, fmt), files[name])
    state.wait_for_everyone()
    run = RunConfig(
        model=cfg.model,
        objective=ObjectiveConfig(objective="bt"),
        training=t,
        data=DataConfig(
            train=[files["train"]],
            eval=[files["test"]] if d.evaluate else [],
            heldout_fraction=0.0,
            max_length=d.max_length,
            max_prompt_length=d.max_prompt_length,
            use_chat_template=d.use_chat_template,
            packing=d.packing,
            row_tokens=d.row_tokens,
            token_budget=d.token_budget,
            group_by_length=d.group_by_length,
        ),
    )
    results = run_training(run)
    results["aspect"] = PREFERENCE
    results["prompt_format"] = fmt.to_dict()
    return results
