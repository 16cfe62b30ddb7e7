"""A training run end to end: data → encoding → model → reference → RewardTrainer → evaluation → export."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from rewardkit.config import save_config, to_dict
from rewardkit.data.batching import pair_batch_sampler
from rewardkit.data.encoding import EncodedPair, EncodingConfig, PairEncoder
from rewardkit.data.packing import pair_collator
from rewardkit.data.priors import attach_prior_bounds
from rewardkit.data.record import DataError, PreferencePair
from rewardkit.data.sources import entry_name, load_entries, load_entry, remove_overlap, split_pairs
from rewardkit.evaluation.evaluate import Scorer, evaluate_scorer, write_report
from rewardkit.evaluation.scoring import score_pairs
from rewardkit.files import write_json_atomic
from rewardkit.models.embedder import pair_cosines, prior_embedder
from rewardkit.models.export import export_model
from rewardkit.models.loading import build_reward_model, load_tokenizer
from rewardkit.models.reference import (
    AdapterReference,
    FrozenModelReference,
    PrecomputedReference,
    Reference,
    make_reference,
    precompute_reference_logps,
)
from rewardkit.models.reward_model import ModelConfig, RewardModel
from rewardkit.objectives.objective import Objective
from rewardkit.training.config import RunConfig
from rewardkit.training.engines import (
    check_engine,
    deepspeed_on_cpu,
    deepspeed_requested,
    enable_fsdp_on_cpu,
    process_state,
    whole_models,
)
from rewardkit.training.trainer import RewardTrainer

log = logging.getLogger("rewardkit.training")


@dataclass
class PreparedData:
    train: list[PreferencePair]
    validation: list[PreferencePair]
    eval_sets: dict[str, list[PreferencePair]]
    overlap_removed: dict[str, int] = field(default_factory=dict)


def prepare_data(cfg: RunConfig) -> PreparedData:
    """Load training pairs, carve validation / held-out splits, load eval sets without training overlap."""
    d = cfg.data
    train = load_entries(d.train, suite_size=d.suite_size, suite_seed=d.suite_seed)
    eval_sets: dict[str, list[PreferencePair]] = {}
    if d.eval:
        for entry in d.eval:
            eval_sets[entry_name(entry)] = load_entry(entry, suite_size=d.suite_size, suite_seed=d.suite_seed)
    elif d.heldout_fraction > 0:
        train, eval_sets["heldout"] = split_pairs(train, d.heldout_fraction, d.split_seed)
    validation: list[PreferencePair] = []
    if d.validation_fraction > 0:
        train, validation = split_pairs(train, d.validation_fraction, d.split_seed + 1)
    removed = {}
    for name in list(eval_sets):
        eval_sets[name], removed[name] = remove_overlap(eval_sets[name], train, name)
        if not eval_sets[name]:  # found now, not after training
            raise DataError(
                f"eval set {name!r} has no pairs left (after dropping and removing "
                f"{removed[name]} pairs that also occur in the training data)"
            )
    if not train:
        raise DataError(
            f"no training pairs left (train entries {[entry_name(e) for e in d.train]}, after "
            f"holding out {sum(map(len, eval_sets.values()))} for evaluation and "
            f"{len(validation)} for validation)"
        )
    log.info(
        "data: %d train, %d validation, eval sets %s",
        len(train),
        len(validation),
        {k: len(v) for k, v in eval_sets.items()},
    )
    return PreparedData(train, validation, eval_sets, removed)


def training_arguments(cfg: RunConfig, has_validation: bool, metric: str) -> TrainingArguments:
    t = cfg.training
    cuda = torch.cuda.is_available()
    precision = t.mixed_precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    evaluate = has_validation and t.eval_steps is not None
    return TrainingArguments(
        output_dir=t.output_dir,
        num_train_epochs=t.num_epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.lr_scheduler,
        max_grad_norm=t.max_grad_norm,
        seed=t.seed,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,  # a NaN loss is reported as NaN (the divergence guard then stops the run)
        eval_strategy="steps" if evaluate else "no",
        eval_steps=t.eval_steps if evaluate else None,
        save_strategy="steps",
        save_steps=t.eval_steps if (evaluate and t.select_best) else t.save_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=False,  # run_training reloads the best checkpoint itself (tie-aware loader)
        metric_for_best_model=f"eval_{metric}" if evaluate else None,
        greater_is_better=True,
        report_to=t.report_to,
        remove_unused_columns=False,
        label_names=[],
        dataloader_num_workers=t.dataloader_num_workers,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not cuda and not deepspeed_requested(),  # accelerate turns DeepSpeed off with cpu=True
        ddp_backend="gloo" if deepspeed_on_cpu() else None,
        ddp_find_unused_parameters=False,
    )


def run_training(cfg: RunConfig, callbacks: list[TrainerCallback] | None = None) -> dict[str, Any]:
    """Train, evaluate before/after on the eval sets, export. Returns a summary (also written as JSON).
    `callbacks`: transformers TrainerCallbacks added to the trainer (they see the model at each event)."""
    started = time.time()
    state = process_state()
    out_dir = Path(cfg.training.output_dir)
    if state.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out_dir / "config.yaml")  # the resolved config, next to the outputs
    set_seed(cfg.training.seed)

    with state.main_process_first():  # downloads / caches once; the other processes then read them
        data = prepare_data(cfg)
    tokenizer = load_tokenizer(cfg.model.name)
    encoding = EncodingConfig(cfg.data.max_length, cfg.data.max_prompt_length, cfg.data.use_chat_template)
    encoder = PairEncoder(tokenizer, encoding)
    train_enc = encoder.encode_all(data.train, desc="encoding train")
    val_enc = PairEncoder(tokenizer, encoding).encode_all(data.validation, desc="encoding validation")

    objective = Objective(cfg.objective)
    ocfg = cfg.objective

    def build_model() -> RewardModel:
        return build_reward_model(
            cfg.model,
            train_lm_head=objective.needs_logps,
            keep_lm_head=objective.needs_logps,
            head_init=ocfg.default_head_init,
        )

    model = build_model()
    collate = pair_collator(tokenizer.pad_token_id, cfg.data.packing, cfg.data.row_tokens)
    if cfg.model.cache_trunk:  # frozen bottom layers: their output once per pair (models/trunk_cache.py)
        from rewardkit.models.trunk_cache import prepare_trunk_collator

        with state.main_process_first():  # the main process fills the on-disk cache first
            collate = prepare_trunk_collator(
                model,
                train_enc + val_enc,
                top_layers=cfg.model.top_layers,
                pad_token_id=tokenizer.pad_token_id,
                packing=cfg.data.packing,
                row_tokens=cfg.data.row_tokens,
                directory=cfg.model.trunk_cache_dir,
                batch_size=cfg.training.eval_batch_size,
                device=state.device,
            )

    reference = None
    if objective.needs_reference:  # GRM's reference-free losses (sft, dpo_noref) need none
        reference = make_reference(ocfg.reference, model)
        if ocfg.reference == "precomputed":
            device = state.device  # this process's accelerator (cuda:<local rank>), or cpu
            model.to(device)
            for enc in (train_enc, val_enc):
                if enc:
                    with state.main_process_first():
                        precompute_reference_logps(
                            model,
                            enc,
                            collate,
                            model_name=cfg.model.name,
                            dtype=cfg.model.dtype,
                            batch_size=cfg.training.eval_batch_size,
                            device=device,
                        )
    if ocfg.prior is not None:  # PCRM: per-pair similarity and bound delta*, computed once
        embedder = prior_embedder(ocfg.embedder) if ocfg.prior == "cosine" else None
        with state.main_process_first():  # the main process fills the embedding cache first
            for encoded, pairs in ((train_enc, data.train), (val_enc, data.validation)):
                cosines = pair_cosines(encoded, pairs, embedder) if embedder is not None and encoded else None
                attach_prior_bounds(encoded, ocfg, cosines=cosines, seed=cfg.training.seed)

    scorer = Scorer(
        name="model",
        model=model,
        tokenizer=tokenizer,
        encoding=encoding,
        reward_head=objective.needs_rewards,
        beta=ocfg.beta if objective.needs_logps else None,
    )
    results: dict[str, Any] = {"config": to_dict(cfg), "overlap_removed": data.overlap_removed}
    if data.eval_sets and cfg.training.eval_before:
        scorer.reference = evaluation_reference(cfg, reference, model)
        results["before"] = evaluate_scorer(scorer, data.eval_sets, batch_size=cfg.training.eval_batch_size)
        scorer.reference = None

    metric = "accuracy" if objective.needs_rewards else "implicit_accuracy"
    args = training_arguments(cfg, bool(val_enc), metric)
    enable_fsdp_on_cpu(args)
    trainer = RewardTrainer(
        model=model,
        args=args,
        data_collator=collate,
        train_dataset=train_enc,
        eval_dataset=val_enc or None,
        processing_class=tokenizer,
        objective=objective,
        reference=reference,
        callbacks=callbacks,
        train_batch_sampler=pair_batch_sampler(
            train_enc,
            packing=cfg.data.packing,
            batch_size=cfg.training.batch_size,
            token_budget=cfg.data.token_budget,
            group_by_length=cfg.data.group_by_length,
            seed=cfg.training.seed,
            num_processes=state.num_processes,
        ),
    )
    check_engine(trainer.accelerator)
    resume = cfg.training.resume_from
    if cfg.training.resume and resume is None:
        resume = get_last_checkpoint(str(out_dir))
        if resume is None:
            log.warning("--resume: no checkpoint in %s, starting from scratch", out_dir)
    train_out = trainer.train(resume_from_checkpoint=resume)
    best = trainer.state.best_model_checkpoint
    if cfg.training.select_best and best:  # the checkpoint with the best validation metric
        trainer._load_from_checkpoint(best)
        results["selected"] = {
            "checkpoint": best,
            "step": trainer.state.best_global_step,
            f"validation_{metric}": trainer.state.best_metric,
        }
        log.info("selected %s (validation %s %.4f)", best, metric, trainer.state.best_metric)
    results["train"] = train_out.metrics
    results["log_history"] = trainer.state.log_history

    if data.eval_sets:
        scorer.reference = evaluation_reference(cfg, reference, model)
        results["after"] = evaluate_scorer(scorer, data.eval_sets, batch_size=cfg.training.eval_batch_size)
    if objective.needs_rewards:  # every process: scoring is collective
        results["reward_stats"] = reward_stats(model, train_enc, collate, batch_size=cfg.training.eval_batch_size)
    if cfg.training.export:
        with full_weights(trainer, build_model) as full:  # collective when sharded: every process enters
            if state.is_main_process:
                results["export"] = str(export_run(cfg, full, tokenizer, results))
    if state.is_main_process:
        if data.eval_sets:
            report = {k: results[k] for k in ("before", "after") if k in results}
            write_report(report, out_dir, stem="eval")
        results["seconds"] = time.time() - started
        write_json_atomic(out_dir / "results.json", results, default=str)
    state.wait_for_everyone()
    return results


@contextmanager
def full_weights(trainer: RewardTrainer, rebuild: Callable[[], RewardModel]) -> Iterator[RewardModel | None]:
    """The trained model with its full weights readable, for the block. Collective when the weights are sharded
    (every process must enter):
      - DeepSpeed ZeRO-3: the partitioned parameters are gathered on every process for the block, and models
        built inside it (the export's skeletons) stay whole (`whole_models`);
      - FSDP: the full state dict is gathered to the main process and loaded into an unsharded copy of the model
        (`rebuild()` builds its skeleton); the other processes get None;
      - otherwise (one process, DDP, ZeRO-1/2): the model itself."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    if trainer.is_fsdp_enabled:
        state = trainer.accelerator.get_state_dict(trainer.model)  # full, on the main process only (in CPU RAM)
        if not trainer.accelerator.is_main_process:
            yield None
            return
        full = rebuild()
        full.load_state_dict(state)
        yield full
        return
    plugin = trainer.accelerator.state.deepspeed_plugin if trainer.is_deepspeed_enabled else None
    if plugin is None or plugin.zero_stage != 3:
        yield model
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(list(model.parameters()), modifier_rank=None), whole_models():
        yield model


REWARD_STATS_PAIRS = 1024


def reward_stats(
    model: RewardModel,
    encoded: list[EncodedPair],
    collate: Callable[[list[EncodedPair]], dict[str, Any]] | None = None,
    *,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Mean and (population) std of the reward over the chosen and rejected responses of the first
    REWARD_STATS_PAIRS training pairs: the export writes them into config.json (OpenRLHF's `mean` / `std`).
    `collate`: the run's collator; with the frozen-trunk cache only the top layers run."""
    scores = score_pairs(model, encoded[:REWARD_STATS_PAIRS], collate, batch_size=batch_size, desc="reward statistics")
    values = torch.cat([scores.chosen, scores.rejected]).double()
    return {
        "mean": float(values.mean()),
        "std": float(values.std(unbiased=False)),
        "count": values.numel(),
        "source": "train",
    }


def evaluation_reference(cfg: RunConfig, reference: Reference | None, model: RewardModel) -> Reference | None:
    """Reference log-probs for eval pairs. Precomputed values cover training pairs only, so evaluation
    switches LoRA adapters off, or loads the starting model as a frozen reference."""
    if not isinstance(reference, PrecomputedReference):
        return reference
    if model.is_peft:
        return AdapterReference()
    with whole_models():  # under ZeRO-3 too: a whole inference copy on each process
        base = build_reward_model(ModelConfig(name=cfg.model.name, tuning="full", dtype=cfg.model.dtype))
    return FrozenModelReference(base.to(next(model.parameters()).device))


def export_run(cfg: RunConfig, model: Any, tokenizer: Any, results: dict[str, Any]) -> Path:
    objective = cfg.objective
    after = results.get("after") or {}
    metrics = {
        f"{name}/{key}": m[key] for name, m in after.items() for key in ("accuracy", "implicit_accuracy") if key in m
    }
    metadata = {
        "objective": objective.objective,
        "objective_config": to_dict(objective),
        "base_model": cfg.model.name,
        "reference_model": cfg.model.name,
        "train_data": [entry_name(e) for e in cfg.data.train],
        "train_entries": cfg.data.train,  # read again by evaluation suites to remove train/test overlap
        "max_length": cfg.data.max_length,
        "use_chat_template": cfg.data.use_chat_template,
        "metrics": metrics,
        "reward_stats": results.get("reward_stats"),
    }
    return export_model(
        model,
        tokenizer,
        Path(cfg.training.output_dir) / "export",
        metadata=metadata,
        reward_head=objective.reward_weight > 0,
        policy=objective.policy_weight > 0,
    )
