"""The run configuration: model, data, objective and training sections (YAML or flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.objective import ObjectiveConfig


@dataclass
class DataConfig:
    """Where pairs come from and how they are encoded.

    Each entry of `train` / `eval` is "suite" (the built-in preference suite), a file path, "hf:org/name",
    or a mapping {path, format, limit, subset, split, strict}.
    """

    train: list[Any] = field(default_factory=lambda: ["suite"])
    eval: list[Any] = field(default_factory=list)  # empty: hold out `heldout_fraction` of train
    heldout_fraction: float = 0.1
    validation_fraction: float = 0.0  # carved from train for evaluation during training / checkpoint choice
    split_seed: int = 0
    suite_size: int = 200  # pairs per family when an entry is "suite"
    suite_seed: int = 0
    max_length: int = 512
    max_prompt_length: int | None = None  # prompt keeps at least this many tokens; default max_length // 2
    use_chat_template: bool = True
    # Batch layout (docs/throughput.md): shared-prefix packed rows, or one right-padded sequence per row.
    packing: bool = True
    row_tokens: int = 1024  # packing: most tokens per row (a longer pair gets a row of its own)
    token_budget: int | None = None  # tokens per training batch, as laid out; None: training.batch_size pairs
    group_by_length: bool = False  # fixed batch size: batch pairs of similar length (a token budget always does)

    def __post_init__(self) -> None:
        if self.row_tokens < 2:
            raise ValueError(f"data.row_tokens must be >= 2, not {self.row_tokens}")
        if self.token_budget is not None and self.token_budget < 1:
            raise ValueError(f"data.token_budget must be a positive number of tokens or null, not {self.token_budget}")


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping; mapped onto transformers.TrainingArguments."""

    output_dir: str = "runs/rewardkit"
    num_epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 8  # pairs per device per step (2x sequences)
    eval_batch_size: int = 16
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    lr_scheduler: str = "linear"
    max_grad_norm: float = 1.0
    seed: int = 42
    logging_steps: int = 10
    eval_steps: int | None = None  # evaluate on the validation split every N steps (needs validation_fraction)
    save_steps: int = 500
    save_total_limit: int | None = 2
    resume: bool = False  # continue from the latest checkpoint in output_dir
    resume_from: str | None = None  # or from this checkpoint directory
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])
    mixed_precision: str = "auto"  # auto (bf16 on a capable GPU, none on CPU) | no | bf16 | fp16
    dataloader_num_workers: int = 0
    eval_before: bool = True  # also evaluate the untrained model on the eval sets
    export: bool = True  # write HF checkpoints to <output_dir>/export at the end
    select_best: bool = False  # reload the best checkpoint on validation accuracy at the end


@dataclass
class RunConfig:
    FLAG_NAMES: ClassVar[dict[str, str]] = {"model.name": "model", "objective.objective": "objective"}

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
