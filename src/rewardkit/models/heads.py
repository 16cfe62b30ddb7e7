"""Where other tools keep a trained reward head, so their checkpoints load with it (never with a random one).

  sequence classifier   config.json of a `*ForSequenceClassification` (TRL's RewardTrainer, hub RMs) or of an
                        OpenRLHF reward model (architectures ["RewardModel"], `value_head_prefix` in the config);
                        head `<value_head_prefix>.weight` (OpenRLHF; "score" by default, "value_head" in older
                        versions) or `score.weight`, with one output
  LLaMA-Factory         a causal LM directory + value_head.safetensors / value_head.bin holding
                        `v_head.summary.weight` and `v_head.summary.bias` (TRL's AutoModelForCausalLMWithValueHead)

rewardkit's own exports (rewardkit.json) are read by models/loading.py. OpenRLHF's reward normalisation statistics
live in config.json as `mean` / `std` (applied by OpenRLHF when `--reward.normalize_enable` is set).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from rewardkit.models.registry import ModelResolutionError

VALUE_HEAD_FILES = ("value_head.safetensors", "value_head.bin")  # LLaMA-Factory's names
VALUE_HEAD_KEY = "v_head.summary"
OPENRLHF_ARCHITECTURE = "RewardModel"
LOOKED_FOR = (
    "rewardkit.json (a rewardkit export); config.json of a *ForSequenceClassification or OpenRLHF "
    "reward model with a one-output head (score.weight or <value_head_prefix>.weight); "
    f"{' / '.join(VALUE_HEAD_FILES)} with {VALUE_HEAD_KEY}.weight (LLaMA-Factory)"
)


class MissingRewardHeadError(ModelResolutionError):
    """A directory asked to score has no trained reward head."""


@dataclass(frozen=True)
class HeadSource:
    """A trained reward head found in a checkpoint directory."""

    layout: str  # "sequence_classification" | "value_head"
    weight_key: str
    bias_key: str | None
    files: dict[str, Path]  # tensor key → file holding it

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        weight = read_tensor(self.files[self.weight_key], self.weight_key)
        bias = read_tensor(self.files[self.bias_key], self.bias_key) if self.bias_key else None
        return weight, bias

    def describe(self) -> str:
        kind = {"sequence_classification": "sequence-classification head", "value_head": "LLaMA-Factory value head"}[
            self.layout
        ]
        return f"{kind} {self.weight_key} ({self.files[self.weight_key].name})"


def tensor_files(path: Path, names: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Tensor key → file, over the directory's safetensors / PyTorch weight files (or only `names`)."""
    files = [path / n for n in names] if names else sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    out: dict[str, Path] = {}
    for file in files:
        if not file.is_file() or file.name == "training_args.bin":
            continue
        if file.suffix == ".safetensors":
            with safe_open(str(file), framework="pt") as f:
                keys = list(f.keys())
        else:
            keys = list(torch.load(file, map_location="cpu", weights_only=True, mmap=True))
        out.update(dict.fromkeys(keys, file))
    return out


def read_tensor(file: Path, key: str) -> torch.Tensor:
    if file.suffix == ".safetensors":
        with safe_open(str(file), framework="pt") as f:
            return f.get_tensor(key)
    return torch.load(file, map_location="cpu", weights_only=True, mmap=True)[key].clone()


def read_config(path: Path) -> dict[str, Any]:
    file = path / "config.json"
    return json.loads(file.read_text()) if file.is_file() else {}


def is_reward_classifier(config: dict[str, Any]) -> bool:
    """A config saved by a sequence-classification model or an OpenRLHF reward model."""
    architectures = config.get("architectures") or []
    return "value_head_prefix" in config or any(
        a == OPENRLHF_ARCHITECTURE or a.endswith("ForSequenceClassification") for a in architectures
    )


def find_reward_head(path: str | Path) -> HeadSource | None:
    """The trained reward head of a non-rewardkit checkpoint directory; None when it has none (a base model).

    Raises MissingRewardHeadError for a classifier whose head is missing or has more than one output."""
    path = Path(path)
    present = tuple(n for n in VALUE_HEAD_FILES if (path / n).is_file())
    if present:
        files = tensor_files(path, present)
        weight, bias = f"{VALUE_HEAD_KEY}.weight", f"{VALUE_HEAD_KEY}.bias"
        if weight not in files:
            raise MissingRewardHeadError(f"{path / present[0]} has no {weight} (keys: {sorted(files)[:6]})")
        return _checked(HeadSource("value_head", weight, bias if bias in files else None, files), path)
    config = read_config(path)
    if not is_reward_classifier(config):
        return None
    files = tensor_files(path)
    prefix = config.get("value_head_prefix") or "score"
    for name in dict.fromkeys((prefix, "score")):
        if f"{name}.weight" in files:
            bias = f"{name}.bias" if f"{name}.bias" in files else None
            return _checked(HeadSource("sequence_classification", f"{name}.weight", bias, files), path)
    raise MissingRewardHeadError(
        f"{path} is a sequence classifier ({config.get('architectures')}) but its weights hold no {prefix}.weight head"
    )


def _checked(head: HeadSource, path: Path) -> HeadSource:
    weight, _ = head.tensors()
    if weight.dim() != 2 or weight.shape[0] != 1:
        raise MissingRewardHeadError(
            f"{path}: {head.weight_key} has shape {tuple(weight.shape)}; a reward model "
            "has one output (a classifier with several labels is not a reward model)"
        )
    return head


def reward_stats(config: dict[str, Any]) -> dict[str, float] | None:
    """The reward mean / std stored in config.json (OpenRLHF's keys, also written by rewardkit's export)."""
    mean, std = config.get("mean"), config.get("std")
    if isinstance(mean, (int, float)) and isinstance(std, (int, float)) and std > 0:
        return {"mean": float(mean), "std": float(std)}
    return None
