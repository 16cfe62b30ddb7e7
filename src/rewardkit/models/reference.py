"""The frozen reference policy of DPO / HaF, three ways (same numbers, different cost):

  precomputed  one no-grad pass before training stores log ref(y|x) per pair, cached on disk (default)
  adapter      the same LoRA model with its adapters switched off, every step
  copy         a frozen in-memory copy of the starting model, every step
For evaluation, a reference model loaded separately is a FrozenModelReference too.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from rewardkit.data.encoding import EncodedPair
from rewardkit.files import mark_used, write_atomic
from rewardkit.models.registry import rewardkit_home
from rewardkit.models.reward_model import RewardModel

log = logging.getLogger("rewardkit.models")

REF_CHOSEN, REF_REJECTED = "ref_chosen_logps", "ref_rejected_logps"


class Reference:
    """Gives log ref(y|x) for the 2P sequences of a batch (chosen first, then rejected)."""

    def logps(self, model: RewardModel, batch: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError


class PrecomputedReference(Reference):
    """Reads the values `precompute_reference_logps` stored on each EncodedPair (they reach the batch as extras)."""

    def logps(self, model: RewardModel, batch: dict[str, Any]) -> torch.Tensor:
        if REF_CHOSEN not in batch:
            raise RuntimeError(
                "reference=precomputed but the batch has no reference log-probs; "
                "call precompute_reference_logps on the dataset first"
            )
        return torch.cat([batch[REF_CHOSEN], batch[REF_REJECTED]])


class AdapterReference(Reference):
    def logps(self, model: RewardModel, batch: dict[str, Any]) -> torch.Tensor:
        return model.reference_logps(batch)


class FrozenModelReference(Reference):
    """A separate frozen model: a copy of the starting model (mode 'copy'), or a reference loaded for eval."""

    def __init__(self, frozen: RewardModel):
        self.frozen = frozen.eval().requires_grad_(False)

    @torch.no_grad()
    def logps(self, model: RewardModel, batch: dict[str, Any]) -> torch.Tensor:
        device = next(self.frozen.parameters()).device
        if device != batch["input_ids"].device:
            self.frozen.to(batch["input_ids"].device)
        return self.frozen(**batch, need_rewards=False, need_logps=True)["logps"]


def make_reference(mode: str, model: RewardModel) -> Reference:
    if mode == "precomputed":
        return PrecomputedReference()
    if mode == "adapter":
        if not model.is_peft:
            raise ValueError("reference=adapter needs LoRA tuning (model.tuning=lora)")
        return AdapterReference()
    if mode == "copy":
        return FrozenModelReference(copy.deepcopy(model))
    raise ValueError(f"unknown reference mode {mode!r}")


def _fingerprint_model(name: str) -> str:
    """Identify the reference weights: resolved path plus the size/mtime of its weight files."""
    from rewardkit.models.registry import resolve_model

    path = Path(resolve_model(name))
    parts = [str(path.resolve()) if path.exists() else name]
    if path.is_dir():
        for f in sorted(path.rglob("*.safetensors")) + sorted(path.rglob("*.bin")):
            st = f.stat()
            parts.append(f"{f.relative_to(path)}:{st.st_size}:{int(st.st_mtime)}")
    return "|".join(parts)


def reference_cache_dir() -> Path:
    """Where `precompute_reference_logps` keeps its passes by default: $REWARDKIT_HOME/reference_logps."""
    return rewardkit_home() / "reference_logps"


def reference_cache_key(model_name: str, dtype: str, pairs: Iterable[EncodedPair]) -> str:
    """Key of a cached pass: model weights + dtype + the exact token ids (covers data, template, truncation)."""
    h = hashlib.sha256()
    h.update(json.dumps([_fingerprint_model(model_name), dtype]).encode())
    for p in pairs:
        h.update(json.dumps([p.prompt_ids, p.chosen_ids, p.rejected_ids]).encode())
    return h.hexdigest()[:24]


@torch.no_grad()
def compute_reference_logps(
    model: RewardModel,
    pairs: list[EncodedPair],
    collate: Callable,
    batch_size: int,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One no-grad pass: (chosen, rejected) log-probs of every pair under `model` (adapters as they are).

    Any pair collator works (padded or packed); pairs are batched in length order, which wastes less padding.
    """
    was_training = model.training
    model.eval()
    order = sorted(range(len(pairs)), key=lambda i: pairs[i].num_tokens)
    chosen, rejected = [], []
    for start in tqdm(range(0, len(pairs), batch_size), desc="reference log-probs", disable=not progress):
        batch = collate([pairs[i] for i in order[start : start + batch_size]])
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        logps = model(**batch, need_rewards=False, need_logps=True)["logps"].float().cpu()
        c, r = logps.chunk(2)
        chosen.append(c)
        rejected.append(r)
    model.train(was_training)
    inverse = torch.empty(len(pairs), dtype=torch.long)
    inverse[torch.tensor(order, dtype=torch.long)] = torch.arange(len(pairs))
    return torch.cat(chosen)[inverse], torch.cat(rejected)[inverse]


def precompute_reference_logps(
    model: RewardModel,
    pairs: list[EncodedPair],
    collate: Callable,
    *,
    model_name: str,
    dtype: str,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
    compute: Callable | None = None,
) -> str:
    """Attach log ref(y_w|x), log ref(y_l|x) to each pair's extras, from the disk cache when present.

    `compute` replaces the local pass (the trainer passes a distributed one). Returns the cache key.
    """
    cache = Path(cache_dir) if cache_dir else reference_cache_dir()
    key = reference_cache_key(model_name, dtype, pairs)
    file = cache / f"{key}.safetensors"
    if file.exists():
        stored = load_file(str(file))
        chosen, rejected = stored["chosen"], stored["rejected"]
        mark_used(file)
        log.info("reference log-probs: reusing cache %s (%d pairs)", file, len(chosen))
    else:
        if compute is not None:
            chosen, rejected = compute(pairs)
        else:
            chosen, rejected = compute_reference_logps(model, pairs, collate, batch_size, device)
        tensors = {"chosen": chosen.contiguous(), "rejected": rejected.contiguous()}
        write_atomic(file, lambda tmp: save_file(tensors, str(tmp)))
        log.info("reference log-probs: computed %d pairs, cached at %s", len(chosen), file)
    if len(chosen) != len(pairs):
        raise RuntimeError(f"reference cache {file} has {len(chosen)} pairs, expected {len(pairs)}")
    for p, c, r in zip(pairs, chosen.tolist(), rejected.tolist()):
        p.extras[REF_CHOSEN] = c
        p.extras[REF_REJECTED] = r
    return key
