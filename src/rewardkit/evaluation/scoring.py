"""Batched scoring of pairs with a RewardModel: reward head and/or implicit reward, sharded by accelerate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from rewardkit.data.encoding import EncodedPair
from rewardkit.data.packing import PackedPairCollator
from rewardkit.models.reference import Reference
from rewardkit.models.reward_model import RewardModel


@dataclass
class PairScores:
    """Scores of the chosen / rejected response of each pair, in the order of the encoded pairs."""

    index: torch.Tensor  # EncodedPair.index of each row
    chosen: torch.Tensor | None = None  # reward head
    rejected: torch.Tensor | None = None
    implicit_chosen: torch.Tensor | None = None  # beta * (log pi - log ref)
    implicit_rejected: torch.Tensor | None = None
    logps_chosen: torch.Tensor | None = None
    logps_rejected: torch.Tensor | None = None


@torch.no_grad()
def score_pairs(model: RewardModel, pairs: list[EncodedPair],
                collate: Callable[[list[EncodedPair]], dict[str, Any]] | None = None,
                *, batch_size: int = 16, reward_head: bool = True, reference: Reference | None = None,
                beta: float | None = None, accelerator: Accelerator | None = None,
                desc: str = "scoring") -> PairScores:
    """Score every pair exactly once, also under several processes (gather_for_metrics drops duplicates).

    With a `reference` and `beta`, also the implicit reward beta * (log pi(y|x) - log ref(y|x)).
    `collate` None: shared-prefix packed rows (data/packing.py; same scores as padded rows, fewer tokens).
    """
    accelerator = accelerator or Accelerator()
    implicit = reference is not None
    if implicit and beta is None:
        raise ValueError("implicit rewards need beta")
    if collate is None:
        collate = PackedPairCollator(pad_token_id=0)  # padding is masked out and never read: any valid id
    pairs = sorted(pairs, key=lambda p: p.num_tokens)  # similar lengths per batch: less padding
    loader = DataLoader(pairs, batch_size=batch_size, collate_fn=collate)

    def rows_of(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        out = model(**batch, need_rewards=reward_head, need_logps=implicit)
        rows = {"index": batch["pair_index"]}
        if reward_head:
            rows["chosen"], rows["rejected"] = out["rewards"].chunk(2)
        if implicit:
            ref = reference.logps(model, batch)
            pi_c, pi_r = out["logps"].chunk(2)
            ref_c, ref_r = ref.chunk(2)
            rows["implicit_chosen"], rows["implicit_rejected"] = beta * (pi_c - ref_c), beta * (pi_r - ref_r)
            rows["logps_chosen"], rows["logps_rejected"] = pi_c, pi_r
        return rows

    merged = gather_rows(model, loader, rows_of, accelerator, desc)
    return PairScores(index=merged.pop("index"), **merged)


@torch.no_grad()
def score_sequences(model: RewardModel, sequences: list[tuple[list[int], list[int]]], pad_token_id: int, *,
                    batch_size: int = 16, reward_head: bool = True, reference: Reference | None = None,
                    beta: float | None = None, accelerator: Accelerator | None = None,
                    desc: str = "scoring") -> dict[str, torch.Tensor]:
    """Score (prompt_ids, response_ids) sequences; returns {"rewards": (N,)} and/or {"implicit": (N,)} in input order."""
    from rewardkit.data.collate import SequenceCollator

    accelerator = accelerator or Accelerator()
    implicit = reference is not None
    items = sorted(((i, p, r) for i, (p, r) in enumerate(sequences)), key=lambda x: len(x[1]) + len(x[2]))
    loader = DataLoader(items, batch_size=batch_size, collate_fn=SequenceCollator(pad_token_id))

    def rows_of(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        out = model(**batch, need_rewards=reward_head, need_logps=implicit)
        rows = {"index": batch["index"]}
        if reward_head:
            rows["rewards"] = out["rewards"]
        if implicit:
            rows["implicit"] = beta * (out["logps"] - reference.logps(model, batch))
        return rows

    merged = gather_rows(model, loader, rows_of, accelerator, desc)
    merged.pop("index")
    return merged


def gather_rows(model: RewardModel, loader: DataLoader, rows_of: Callable[[dict[str, Any]], dict[str, torch.Tensor]],
                accelerator: Accelerator, desc: str) -> dict[str, torch.Tensor]:
    """Run `rows_of` on every batch of `loader` (sharded across processes), gather the per-item tensors without
    the duplicates accelerate adds to an uneven last batch, and sort them by their "index" entry."""
    loader = accelerator.prepare_data_loader(loader)
    model.eval()
    model.to(accelerator.device)
    parts: dict[str, list[torch.Tensor]] = {}
    show = accelerator.is_local_main_process and len(loader) > 1
    for batch in tqdm(loader, desc=desc, disable=not show, leave=False):
        for name, values in rows_of(batch).items():
            parts.setdefault(name, []).append(accelerator.gather_for_metrics(values.contiguous()).cpu())
    merged = {k: torch.cat(v) for k, v in parts.items()}
    order = torch.argsort(merged["index"])
    return {k: v[order] for k, v in merged.items()}
