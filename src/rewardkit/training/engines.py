"""Which distributed engine a launch asked for (accelerate's environment), and making sure it is the one that runs.

`accelerate launch --config_file X` passes the engine to the processes as environment variables
(ACCELERATE_USE_FSDP, ACCELERATE_USE_DEEPSPEED). On a machine without GPUs an FSDP run used to fall back to
plain DDP over gloo without a word (accelerate turns FSDP on only for GPU-type process groups), and a DeepSpeed
run died at the first gather: accelerate leaves the backend unset there and counts one process (and DeepSpeed
is off whenever the Trainer asks for the CPU, which rewardkit did without CUDA). torch's `fully_shard` (FSDP2)
and DeepSpeed's CPU accelerator both work over gloo, so:

  - FSDP2 on CPU: `enable_fsdp_on_cpu` sets accelerate's shared state to FSDP before the Trainer builds its
    Accelerator (what accelerate does itself on GPUs), so `configs/accelerate/cpu_fsdp2_2proc.yaml` really shards;
  - DeepSpeed on CPU: the Trainer does not ask for the CPU (`training_arguments`) and the gloo backend is named
    (`process_state`, `training_arguments`);
  - `check_engine` stops a run whose requested engine is not the one running, instead of training with another.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from accelerate import Accelerator, PartialState
from accelerate.state import AcceleratorState
from accelerate.utils import (
    DistributedType,
    FullyShardedDataParallelPlugin,
    TorchDynamoPlugin,
)
from transformers import TrainingArguments


def _flag(name: str) -> bool:
    return os.environ.get(name, "false").lower() in ("1", "true", "yes")


def requested_engine() -> str | None:
    """ "fsdp" or "deepspeed" when the launch config asks for one, else None (DDP or one process)."""
    if _flag("ACCELERATE_USE_DEEPSPEED"):
        return "deepspeed"
    if _flag("ACCELERATE_USE_FSDP"):
        return "fsdp"
    return None


def deepspeed_requested() -> bool:
    return requested_engine() == "deepspeed"


def deepspeed_on_cpu() -> bool:
    return deepspeed_requested() and not torch.cuda.is_available()


def process_state() -> PartialState:
    """accelerate's process state. Under DeepSpeed on CPU it names the gloo backend: accelerate leaves the backend
    unset there and then counts one process, so every process would take itself for the main one."""
    return PartialState(backend="gloo") if deepspeed_on_cpu() else PartialState()


@contextmanager
def whole_models() -> Iterator[None]:
    """Models built or loaded inside the block are whole on every process. Under DeepSpeed ZeRO-3 transformers
    otherwise partitions each new model with zero.Init (a collective) and loads checkpoints into it on rank 0
    only: partitions that only a DeepSpeed engine can use. The export's skeletons (built on the main process alone:
    it would wait forever) and the evaluation's reference model are plain models, so transformers' ZeRO-3 flag is
    lifted for the block."""
    from transformers.integrations import deepspeed as hf_deepspeed

    ref = getattr(hf_deepspeed, "_hf_deepspeed_config_weak_ref", None)
    config = ref() if ref is not None else None
    if config is None or not config.is_zero3():
        yield
        return
    hf_deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        hf_deepspeed.set_hf_deepspeed_config(config)


def enable_fsdp_on_cpu(args: TrainingArguments) -> bool:
    """Under an FSDP2 launch on CPU processes (gloo), make accelerate run FSDP instead of DDP. Returns whether it
    did. Call right before the Trainer is built on `args` (its Accelerator then finds the state set up); a no-op
    anywhere else."""
    if requested_engine() != "fsdp":
        return False
    _ = args.device  # TrainingArguments resets accelerate's state when it sets up devices: let it happen first
    if PartialState().distributed_type != DistributedType.MULTI_CPU:
        return False
    plugin = FullyShardedDataParallelPlugin()  # the launch config's settings (FSDP_* variables)
    if plugin.fsdp_version != 2:
        return False  # FSDP1 wants a GPU; check_engine says so
    state = AcceleratorState(cpu=True, dynamo_plugin=TorchDynamoPlugin(), _from_accelerator=True)
    if state.distributed_type == DistributedType.MULTI_CPU:
        state.fsdp_plugin = plugin
        state.distributed_type = DistributedType.FSDP
        # as accelerate does: every later AcceleratorState() re-reads the process-level type from PartialState
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    return state.distributed_type == DistributedType.FSDP


def check_engine(accelerator: Accelerator) -> None:
    """Raise when the launch asked for FSDP / DeepSpeed but `accelerator` (the Trainer's) runs something else."""
    wanted = requested_engine()
    running = {DistributedType.DEEPSPEED: "deepspeed", DistributedType.FSDP: "fsdp"}.get(accelerator.distributed_type)
    if wanted is None or wanted == running:
        return
    message = (
        f"the accelerate launch asked for {wanted}, but accelerate would run "
        f"{accelerator.distributed_type.value} instead"
    )
    if wanted == "deepspeed" and _flag("ACCELERATE_USE_CPU"):
        message += (
            "; accelerate turns DeepSpeed off when the launch forces the CPU (ACCELERATE_USE_CPU, "
            "`accelerate launch --cpu`); without GPUs DeepSpeed uses its CPU accelerator by itself: launch "
            "without --cpu (configs/accelerate/cpu_zero2_2proc.yaml)"
        )
    elif wanted == "fsdp" and not torch.cuda.is_available():
        message += "; on CPU rewardkit runs FSDP2 only (fsdp_version: 2, configs/accelerate/cpu_fsdp2_2proc.yaml)"
    raise RuntimeError(message)
