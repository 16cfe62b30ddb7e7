"""RewardTrainer: transformers.Trainer whose loss is the composable Objective.

One training step, top to bottom (compute_loss):
  1. model(**batch): one forward over chosen + rejected sequences → rewards and/or response log-probs
  2. reference log-probs (cached in the batch, adapters off, or a frozen copy) when the policy term is on
  3. objective(...) → loss and per-pair metrics; metrics are gathered across processes and accumulated
Trainer supplies the rest: accelerate (DDP/DeepSpeed/FSDP), optimiser, schedule, logging, progress bars.
Checkpoints are staged in a hidden folder and renamed into place, so a killed run never leaves a
half-written `checkpoint-N` for `--resume` to trip over.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Sampler
from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from rewardkit.models.reference import FrozenModelReference, Reference
from rewardkit.objectives.objective import Objective
from rewardkit.training.metrics import MetricAccumulator

log = logging.getLogger("rewardkit.training")

WEIGHTS_FILE = "model.safetensors"
STAGING_DIR = ".staging"


def dedup_shared(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop later names of tensors that share storage (tied embeddings): safetensors refuses aliases."""
    seen: set[tuple[int, tuple[int, ...]]] = set()
    out = {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr() if tensor.device.type != "meta" else id(tensor), tuple(tensor.shape))
        if key in seen:
            continue
        seen.add(key)
        out[name] = tensor.detach().contiguous()
    return out


class RewardTrainer(Trainer):
    def __init__(self, *args: Any, objective: Objective, reference: Reference | None = None,
                 train_batch_sampler: Sampler[list[int]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.objective = objective
        self.reference = reference
        if isinstance(reference, FrozenModelReference):
            reference.frozen = self._prepare_frozen(reference.frozen)
        self.train_batch_sampler = train_batch_sampler  # e.g. data.batching.PairBatchSampler (token budgets)
        self._metrics = {"train": MetricAccumulator(), "eval": MetricAccumulator()}
        self._staging_root: str | None = None

    def get_train_dataloader(self) -> DataLoader:
        """Trainer's loader, or one driven by `train_batch_sampler` (its batches replace batch_size and
        shuffling; Trainer still calls its `set_epoch` and skips the batches a resumed run has seen)."""
        if self.train_batch_sampler is None:
            return super().get_train_dataloader()
        args = self.args
        loader = DataLoader(self.train_dataset, batch_sampler=self.train_batch_sampler,
                            collate_fn=self.data_collator, num_workers=args.dataloader_num_workers,
                            pin_memory=args.dataloader_pin_memory,
                            persistent_workers=args.dataloader_persistent_workers and args.dataloader_num_workers > 0)
        return self.accelerator.prepare(loader)

    def _prepare_frozen(self, frozen: torch.nn.Module) -> torch.nn.Module:
        """Place a frozen reference copy like the trained model: sharded with it under DeepSpeed ZeRO-3 (whole
        on each process under ZeRO-1/2) or FSDP, by TRL's helpers; on this process's device otherwise."""
        if self.is_deepspeed_enabled:
            from trl.models.utils import prepare_deepspeed

            return prepare_deepspeed(frozen, self.accelerator)
        if self.is_fsdp_enabled:
            from trl.models.utils import prepare_fsdp

            return prepare_fsdp(frozen, self.accelerator)
        return frozen.to(self.accelerator.device)

    # ---- the step ---------------------------------------------------------------------------------
    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        obj = self.objective
        out = model(**inputs, need_rewards=obj.needs_rewards, need_logps=obj.needs_logps)
        ref = None
        if obj.needs_reference:
            ref = self.reference.logps(self.accelerator.unwrap_model(model), inputs)
        result = obj(out.get("rewards"), out.get("logps"), ref, inputs)
        self._record(result, "train" if model.training else "eval")
        return (result.loss, out) if return_outputs else result.loss

    def _record(self, result: Any, mode: str) -> None:
        gather = self.accelerator.gather_for_metrics
        per_pair = {k: gather(v) for k, v in result.per_pair.items()}
        rewards = gather(result.rewards) if result.rewards is not None else None
        self._metrics[mode].add(per_pair, rewards)

    def prediction_step(self, model: torch.nn.Module, inputs: dict[str, Any], prediction_loss_only: bool,
                        ignore_keys: list[str] | None = None) -> tuple[torch.Tensor, None, None]:
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def evaluation_loop(self, dataloader: Any, description: str, prediction_loss_only: bool | None = None,
                        ignore_keys: list[str] | None = None, metric_key_prefix: str = "eval") -> Any:
        self._metrics["eval"].reset()
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys,
                                         metric_key_prefix)
        output.metrics.update({f"{metric_key_prefix}_{k}": v for k, v in self._metrics["eval"].pop().items()})
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if not any(k.startswith("eval_") for k in logs):
            logs.update(self._metrics["train"].pop())
        super().log(logs, start_time)

    # ---- checkpoints ------------------------------------------------------------------------------
    def _get_output_dir(self, trial: Any) -> str:
        return self._staging_root or super()._get_output_dir(trial)

    def _save_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        run_dir = super()._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staging_root = os.path.join(run_dir, STAGING_DIR)
        staged, final = os.path.join(staging_root, name), os.path.join(run_dir, name)
        if self.args.should_save and os.path.exists(staged):
            shutil.rmtree(staged)  # leftover of a run killed mid-save
        self.accelerator.wait_for_everyone()
        self._staging_root = staging_root
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_root = None
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            best = self.state.best_model_checkpoint
            if best and best.startswith(staging_root):
                self.state.best_model_checkpoint = os.path.join(run_dir, os.path.basename(best))
                self.state.save_to_json(os.path.join(staged, "trainer_state.json"))
            if os.path.exists(final):
                shutil.rmtree(final)
            os.replace(staged, final)  # the commit point: checkpoint-N appears complete or not at all
            rotate_checkpoints(output_dir=run_dir, save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=self.state.best_model_checkpoint)
        self.accelerator.wait_for_everyone()

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        """Weights as one safetensors file (tied tensors stored once), plus tokenizer and args."""
        output_dir = output_dir or self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        if state_dict is None:
            state_dict = self.accelerator.unwrap_model(self.model).state_dict()
        save_file(dedup_shared(state_dict), os.path.join(output_dir, WEIGHTS_FILE), metadata={"format": "pt"})
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: torch.nn.Module | None = None) -> None:
        file = os.path.join(resume_from_checkpoint, WEIGHTS_FILE)
        if self.is_deepspeed_enabled or self.is_fsdp_enabled or not os.path.exists(file):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        model = model or self.model
        missing, unexpected = model.load_state_dict(load_file(file), strict=False)
        present = set(dedup_shared(model.state_dict()))
        really_missing = [k for k in missing if k in present]  # tied aliases are restored through their twin
        if really_missing or unexpected:
            raise RuntimeError(f"checkpoint {resume_from_checkpoint} does not match the model: "
                               f"missing {really_missing[:5]}, unexpected {unexpected[:5]}")
        log.info("resumed weights from %s", resume_from_checkpoint)
