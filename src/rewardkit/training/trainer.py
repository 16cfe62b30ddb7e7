"""RewardTrainer: transformers.Trainer whose loss is the composable Objective.

One training step, top to bottom (compute_loss):
  1. model(**batch): one forward over chosen + rejected sequences → rewards and/or response log-probs
  2. reference log-probs (cached in the batch, adapters off, or a frozen copy) when the policy term is on
  3. objective(...) → loss and per-pair metrics; metrics are gathered across processes and accumulated
Trainer supplies the rest: accelerate (DDP/DeepSpeed/FSDP), optimiser, schedule, logging, progress bars.
Checkpoints are staged in a hidden folder and renamed into place, so a killed run never leaves a
half-written `checkpoint-N` for `--resume` to trip over.

Divergence guard: a non-finite loss or gradient norm stops the run before the optimiser applies that step
(DivergenceError naming the step); the last finite weights are saved as `checkpoint-<last step>` first. A
checkpoint is only written when every weight is finite, so rotation never deletes the last finite one. Under
fp16 loss scaling, steps whose gradients overflow are skipped by the scaler as usual, up to
MAX_SCALER_SKIPS in a row.
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

from rewardkit.finite import NonFiniteError, non_finite_tensors
from rewardkit.models.reference import FrozenModelReference, Reference
from rewardkit.objectives.objective import Objective
from rewardkit.training.metrics import MetricAccumulator

log = logging.getLogger("rewardkit.training")

WEIGHTS_FILE = "model.safetensors"
STAGING_DIR = ".staging"
MAX_SCALER_SKIPS = 20  # fp16: overflowing steps in a row the loss scaler may skip before the run is stopped


class DivergenceError(NonFiniteError):
    """Training produced a non-finite loss or gradient norm (or weights); the run stopped at `step`."""

    def __init__(self, message: str, *, step: int, checkpoint: str | None = None):
        self.step, self.checkpoint = step, checkpoint
        super().__init__(message)


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
    def __init__(
        self,
        *args: Any,
        objective: Objective,
        reference: Reference | None = None,
        train_batch_sampler: Sampler[list[int]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.objective = objective
        self.reference = reference
        if isinstance(reference, FrozenModelReference):
            reference.frozen = self._prepare_frozen(reference.frozen)
        self.train_batch_sampler = train_batch_sampler  # e.g. data.batching.PairBatchSampler (token budgets)
        self._metrics = {"train": MetricAccumulator(), "eval": MetricAccumulator()}
        self._staging_root: str | None = None
        # Every pair of an optimizer step weighs the same, however the step's micro-batches are sized (token
        # budgets make them uneven): Trainer counts the step's pairs (`_get_num_items_in_batch`) and compute_loss
        # scales each micro-batch's mean by its share, instead of Trainer averaging micro-batch means.
        self.model_accepts_loss_kwargs = True
        self._step_loss: torch.Tensor | None = None  # sum of this optimiser step's micro-batch losses
        self._scaler_skips = 0  # fp16 overflow steps in a row
        self._rotate = True

    def get_train_dataloader(self) -> DataLoader:
        """Trainer's loader, or one driven by `train_batch_sampler` (its batches replace batch_size and
        shuffling; Trainer still calls its `set_epoch` and skips the batches a resumed run has seen)."""
        if self.train_batch_sampler is None:
            return super().get_train_dataloader()
        args = self.args
        loader = DataLoader(
            self.train_dataset,
            batch_sampler=self.train_batch_sampler,
            collate_fn=self.data_collator,
            num_workers=args.dataloader_num_workers,
            pin_memory=args.dataloader_pin_memory,
            persistent_workers=args.dataloader_persistent_workers and args.dataloader_num_workers > 0,
        )
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
    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        obj = self.objective
        out = model(**inputs, need_rewards=obj.needs_rewards, need_logps=obj.needs_logps)
        ref = None
        if obj.needs_reference:
            ref = self.reference.logps(self.accelerator.unwrap_model(model), inputs)
        result = obj(out.get("rewards"), out.get("logps"), ref, inputs)
        self._record(result, "train" if model.training else "eval")
        loss = result.loss
        if num_items_in_batch is not None:  # this micro-batch's share of the step's pair mean (see __init__)
            loss = loss * (inputs["pair_index"].numel() / num_items_in_batch)
            if self.args.average_tokens_across_devices:  # num_items counts every process's pairs; DDP averages
                loss = loss * self.accelerator.num_processes
        return (loss, out) if return_outputs else loss

    def _get_num_items_in_batch(self, batch_samples: list, device: torch.device) -> torch.Tensor | None:
        """Pairs in the micro-batches of one optimizer step (over all processes)."""
        if not batch_samples or "pair_index" not in batch_samples[0]:
            return None
        count = torch.tensor(sum(b["pair_index"].numel() for b in batch_samples), device=device)
        if self.args.average_tokens_across_devices and self.args.world_size > 1:
            count = self.accelerator.gather(count).sum()
        return count

    # ---- divergence guard ---------------------------------------------------------------------------
    def training_step(
        self, model: torch.nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        step_loss = loss.detach().float().reshape(-1).sum()
        self._step_loss = step_loss if self._step_loss is None else self._step_loss + step_loss
        return loss

    def _get_grad_norm(self, model: torch.nn.Module, grad_norm: Any = None) -> Any:
        """Trainer computes the (pre-clip) gradient norm right before `optimizer.step()`: check the step here."""
        grad_norm = super()._get_grad_norm(model, grad_norm=grad_norm)
        self._check_step(model, grad_norm)
        return grad_norm

    def _check_step(self, model: torch.nn.Module, grad_norm: Any) -> None:
        loss = self._step_loss if self._step_loss is not None else torch.zeros((), device=self.args.device)
        self._step_loss = None
        if hasattr(grad_norm, "full_tensor"):  # FSDP2: a DTensor; its collectives are not plain all-reduces
            grad_norm = grad_norm.full_tensor()
        norm = torch.as_tensor(
            float("nan") if grad_norm is None else grad_norm, dtype=torch.float32, device=loss.device
        ).reshape(())
        flags = torch.stack([~torch.isfinite(loss), ~torch.isfinite(norm)]).float()
        if self.accelerator.num_processes > 1:  # every process must stop at the same step
            flags = self.accelerator.reduce(flags, reduction="sum")
        bad_loss, bad_norm = (bool(f > 0) for f in flags.tolist())
        if grad_norm is None:
            bad_norm = False
        if not (bad_loss or bad_norm):
            self._scaler_skips = 0
            return
        scaled = getattr(self.accelerator, "scaler", None) is not None or (self.is_deepspeed_enabled and self.args.fp16)
        if not bad_loss and scaled:
            self._scaler_skips += 1  # fp16: the scaler skips this step and lowers its scale
            if self._scaler_skips <= MAX_SCALER_SKIPS:
                return
        self._diverged(model, loss.item(), float(norm.item()), bad_loss)

    def _diverged(self, model: torch.nn.Module, loss: float, grad_norm: float, bad_loss: bool) -> None:
        step, done = self.state.global_step + 1, self.state.global_step
        what = f"the loss is {loss:g}" if bad_loss else f"the gradient norm is {grad_norm:g} (loss {loss:g})"
        if not bad_loss and self._scaler_skips:
            what += f" for {self._scaler_skips} steps in a row under fp16 loss scaling"
        saved = self._save_last_finite(model, done)
        where = (
            f"the last finite weights (after step {done}) are saved in {saved}"
            if saved
            else "no step was completed, nothing was saved"
            if done == 0
            else "no checkpoint was saved"
        )
        raise DivergenceError(
            f"training diverged at step {step} of {self.state.max_steps}: {what}; the step was not applied and "
            f"the run stopped; {where}. Lower the learning rate (now {self.args.learning_rate:g}) or check the "
            f"data (margins, scores)",
            step=step,
            checkpoint=saved,
        )

    def _save_last_finite(self, model: torch.nn.Module, step: int) -> str | None:
        """Save the current (pre-divergence) weights as checkpoint-<step>, keeping every older checkpoint."""
        run_dir = super()._get_output_dir(None)
        final = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{step}")
        if step == 0:
            return None
        if os.path.isdir(final):
            return final
        self._rotate = False
        try:
            self._save_checkpoint(model, None)
        except NonFiniteError as e:
            log.error("%s", e)
            return None
        finally:
            self._rotate = True
        return final

    def _check_weights_finite(self, model: torch.nn.Module) -> None:
        """DivergenceError when any process holds a NaN / inf parameter (its shard, under FSDP / ZeRO-3)."""
        bad = non_finite_tensors(self.accelerator.unwrap_model(model).named_parameters())
        count = torch.tensor(float(len(bad)), device=self.args.device)
        if self.accelerator.num_processes > 1:
            count = self.accelerator.reduce(count, reduction="sum")
        if count.item() > 0:
            step = self.state.global_step
            names = ", ".join(bad[:3]) if bad else "on another process"
            raise DivergenceError(
                f"training diverged by step {step}: weights hold NaN or inf values ({names}); "
                f"checkpoint-{step} was not saved. Lower the learning rate (now "
                f"{self.args.learning_rate:g}) or check the data (margins, scores)",
                step=step,
            )

    def _record(self, result: Any, mode: str) -> None:
        """Keep a step's per-pair values on the device. Training sums are reduced across processes once per
        logging step (`log`); an eval batch is gathered at once (one collective), which drops the duplicates
        accelerate adds to an uneven last batch, so every pair counts once."""
        if mode == "train" or self.accelerator.num_processes == 1:
            self._metrics[mode].add(result.per_pair, result.rewards)
            return
        names = list(result.per_pair)
        columns = [result.per_pair[k].float() for k in names]
        if result.rewards is not None:
            columns.extend(result.rewards.float().reshape(2, -1))  # chosen, rejected: one column each per pair
        table = self.accelerator.gather_for_metrics(torch.stack(columns, dim=1))
        rewards = table[:, len(names) :].T.reshape(-1) if result.rewards is not None else None
        self._metrics[mode].add({k: table[:, i] for i, k in enumerate(names)}, rewards)

    def _sum_across_processes(self, totals: torch.Tensor) -> torch.Tensor:
        return self.accelerator.reduce(totals, reduction="sum") if self.accelerator.num_processes > 1 else totals

    def prediction_step(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[torch.Tensor, None, None]:
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    def evaluation_loop(
        self,
        dataloader: Any,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> Any:
        self._metrics["eval"].reset()
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        output.metrics.update({f"{metric_key_prefix}_{k}": v for k, v in self._metrics["eval"].pop().items()})
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if not any(k.startswith("eval_") for k in logs):
            logs.update(self._metrics["train"].pop(self._sum_across_processes))
        super().log(logs, start_time)

    # ---- checkpoints ------------------------------------------------------------------------------
    def _get_output_dir(self, trial: Any) -> str:
        return self._staging_root or super()._get_output_dir(trial)

    def _save_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        self._check_weights_finite(model)  # a non-finite checkpoint is never written (nor rotated in)
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
        best = self.state.best_model_checkpoint
        staged_best = bool(best and best.startswith(staging_root))
        if staged_best:  # on every process: under FSDP / DeepSpeed they all read the best checkpoint back
            self.state.best_model_checkpoint = os.path.join(run_dir, os.path.basename(best))
        if self.args.should_save:
            if staged_best:
                self.state.save_to_json(os.path.join(staged, "trainer_state.json"))
            if os.path.exists(final):
                shutil.rmtree(final)
            os.replace(staged, final)  # the commit point: checkpoint-N appears complete or not at all
            if self._rotate:
                rotate_checkpoints(
                    output_dir=run_dir,
                    save_total_limit=self.args.save_total_limit,
                    best_model_checkpoint=self.state.best_model_checkpoint,
                )
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
        if self.is_deepspeed_enabled:  # only run_training's best-checkpoint reload gets here: the engine's states
            from transformers.integrations.deepspeed import deepspeed_load_checkpoint

            deepspeed_load_checkpoint(
                self.model_wrapped,
                resume_from_checkpoint,
                load_module_strict=not self.accelerator.unwrap_model(self.model).is_peft,
            )
            return
        file = os.path.join(resume_from_checkpoint, WEIGHTS_FILE)
        if self.is_fsdp_enabled or not os.path.exists(file):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        model = model or self.model
        missing, unexpected = model.load_state_dict(load_file(file), strict=False)
        present = set(dedup_shared(model.state_dict()))
        really_missing = [k for k in missing if k in present]  # tied aliases are restored through their twin
        if really_missing or unexpected:
            raise RuntimeError(
                f"checkpoint {resume_from_checkpoint} does not match the model: "
                f"missing {really_missing[:5]}, unexpected {unexpected[:5]}"
            )
        log.info("resumed weights from %s", resume_from_checkpoint)
