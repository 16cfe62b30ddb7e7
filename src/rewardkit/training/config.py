"""The run configuration: model, data, objective and training sections (YAML or flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from transformers.trainer_utils import SchedulerType

from rewardkit.config import option
from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.objective import ObjectiveConfig

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
LR_SCHEDULERS = tuple(s.value for s in SchedulerType)


@dataclass
class DataConfig:
    """Where pairs come from and how they are encoded.

    Each entry of `train` / `eval` is "suite" (the built-in preference suite), a file path, "hf:org/name",
    or a mapping {path, format, limit, subset, split, strict}.
    """

    train: list[Any] = option(
        help="Training pairs: 'suite', file paths, hf:org/name[:split] or mappings "
        "{path, format, limit, subset, split, strict}.",
        factory=lambda: ["suite"],
    )
    eval: list[Any] = option(
        help="Evaluation sets, as train entries; empty: hold out heldout_fraction of train.", factory=list
    )
    heldout_fraction: float = option(0.1, "Share of train held out for evaluation when eval is empty.")
    validation_fraction: float = option(
        0.0, "Share of train carved out for evaluation during training and checkpoint selection."
    )
    split_seed: int = option(0, "Seed of the held-out and validation splits.")
    suite_size: int = option(200, "Pairs per task family when an entry is 'suite'.")
    suite_seed: int = option(0, "Seed of the generated suite pairs.")
    max_length: int = option(512, "Most tokens of prompt + response; the export's model_max_length.")
    max_prompt_length: int | None = option(
        None, "The prompt keeps at least this many tokens when responses are long; none: max_length // 2."
    )
    use_chat_template: bool = option(
        True, "Render with the tokenizer's chat template; false forces the plain Human:/Assistant: template."
    )
    packing: bool = option(
        True, "Shared-prefix packed rows (docs/throughput.md) instead of one padded sequence per row."
    )
    row_tokens: int = option(1024, "With packing: most tokens per row (a longer pair gets a row of its own).")
    token_budget: int | None = option(
        None, "Tokens per training batch, as laid out; none: training.batch_size pairs per batch."
    )
    group_by_length: bool = option(
        False, "With a fixed batch size: batch pairs of similar length (a token budget always does)."
    )

    def __post_init__(self) -> None:
        if self.row_tokens < 2:
            raise ValueError(f"data.row_tokens must be >= 2, not {self.row_tokens}")
        if self.token_budget is not None and self.token_budget < 1:
            raise ValueError(f"data.token_budget must be a positive number of tokens or null, not {self.token_budget}")


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping; mapped onto transformers.TrainingArguments."""

    output_dir: str = option("runs/rewardkit", "Directory for checkpoints, logs, results and the export.")
    num_epochs: float = option(1.0, "Passes over the training pairs.")
    max_steps: int = option(-1, "Optimiser steps to run; -1: num_epochs decides.")
    batch_size: int = option(8, "Pairs per device per step (twice as many sequences).")
    eval_batch_size: int = option(16, "Pairs per batch when scoring.")
    gradient_accumulation_steps: int = option(1, "Steps whose gradients add up before an optimiser update.")
    learning_rate: float = option(1e-4, "Peak learning rate.")
    weight_decay: float = option(0.0, "AdamW weight decay.")
    warmup_ratio: float = option(0.05, "Warm-up length: a fraction of the steps (below 1) or a number of steps.")
    lr_scheduler: str = option(
        "linear", "Learning-rate schedule (transformers' lr_scheduler_type).", choices=LR_SCHEDULERS
    )
    max_grad_norm: float = option(1.0, "Gradient-norm clipping threshold.")
    seed: int = option(42, "Seed of initialisation, sampling and data order.")
    logging_steps: int = option(10, "Log training metrics every N steps.")
    eval_steps: int | None = option(None, "Evaluate on the validation split every N steps (needs validation_fraction).")
    save_steps: int = option(500, "Save a checkpoint every N steps.")
    save_total_limit: int | None = option(2, "Keep at most this many checkpoints; none: all.")
    resume: bool = option(False, "Continue from the latest checkpoint in output_dir.")
    resume_from: str | None = option(None, "Continue from this checkpoint directory.")
    report_to: list[str] = option(
        help="Where training logs go (transformers integrations: tensorboard, wandb, none, ...).",
        factory=lambda: ["tensorboard"],
    )
    mixed_precision: str = option(
        "auto", "Mixed precision: auto (bf16 on a capable GPU, none on CPU), no, bf16 or fp16.", choices=MIXED_PRECISION
    )
    dataloader_num_workers: int = option(0, "Data-loader worker processes.")
    eval_before: bool = option(True, "Also evaluate the untrained model on the eval sets.")
    export: bool = option(True, "Write HF checkpoints to <output_dir>/export at the end.")
    select_best: bool = option(False, "Reload the checkpoint with the best validation metric at the end.")


@dataclass
class RunConfig:
    FLAG_NAMES: ClassVar[dict[str, str]] = {"model.name": "model", "objective.objective": "objective"}

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
