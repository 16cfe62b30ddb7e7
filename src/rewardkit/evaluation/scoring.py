"""Batched scoring of pairs and of (prompt, response) sequences with a RewardModel: reward head and/or implicit
reward, sharded over the processes of an accelerate launch.

Both run shared-prefix packed rows by default (data/packing.py): a pair's prompt is computed once for its two
responses, and sequences that share their prompt ids (the completions of one prompt in RL, the responses of a
best-of-N) are scored as one group: the prompt once, then each response seeing only the prompt and itself.
Rewards equal those of padded rows (one sequence per row) up to float summation order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from rewardkit.data.collate import SequenceCollator, batch_work
from rewardkit.data.encoding import EncodedPair
from rewardkit.data.packing import PackedPairCollator, PackedSequenceCollator, grouped_batches
from rewardkit.models.reference import Reference
from rewardkit.models.reward_model import RewardModel

SCORING_ROW_TOKENS = 1024  # tokens per packed row when scoring (wider rows cost more attention per token)


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
def score_pairs(
    model: RewardModel,
    pairs: list[EncodedPair],
    collate: Callable[[list[EncodedPair]], dict[str, Any]] | None = None,
    *,
    batch_size: int = 16,
    reward_head: bool = True,
    reference: Reference | None = None,
    beta: float | None = None,
    accelerator: Accelerator | None = None,
    desc: str = "scoring",
) -> PairScores:
    """Score every pair exactly once, also under several processes.

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
    batches = [pairs[k : k + batch_size] for k in range(0, len(pairs), batch_size)]

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

    merged = gather_rows(model, batches, collate, rows_of, accelerator, desc)
    return PairScores(index=merged.pop("index"), **merged)


@torch.no_grad()
def score_sequences(
    model: RewardModel,
    sequences: Sequence[tuple[list[int], list[int]]],
    pad_token_id: int,
    *,
    batch_size: int = 16,
    reward_head: bool = True,
    reference: Reference | None = None,
    beta: float | None = None,
    accelerator: Accelerator | None = None,
    desc: str = "scoring",
    packing: bool = True,
    row_tokens: int | None = SCORING_ROW_TOKENS,
    token_budget: int | None = None,
    work: Counter[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Score (prompt_ids, response_ids) sequences; returns {"rewards": (N,)} and/or {"implicit": (N,)} in input order.

    packing (default): sequences with equal prompt ids share one copy of the prompt (see the module docstring),
    in batches of at most `batch_size` sequences and `token_budget` packed tokens, rows of at most `row_tokens`
    tokens. packing=False: one right-padded row per sequence, batches of `batch_size` sequences of similar length.
    `work`: adds what the forward passes computed (data.collate.batch_work) to this counter.
    """
    accelerator = accelerator or Accelerator()
    implicit = reference is not None
    if implicit and beta is None:
        raise ValueError("implicit rewards need beta")
    items = [(i, p, r) for i, (p, r) in enumerate(sequences)]
    if packing:
        batches = [[items[i] for i in b] for b in grouped_batches(sequences, batch_size, row_tokens, token_budget)]
        collate: Callable[[list[Any]], dict[str, Any]] = PackedSequenceCollator(pad_token_id, row_tokens)
    else:
        items.sort(key=lambda x: len(x[1]) + len(x[2]))
        batches = [items[k : k + batch_size] for k in range(0, len(items), batch_size)]
        collate = SequenceCollator(pad_token_id)

    def rows_of(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        if work is not None:
            work.update(batch_work(batch))
        out = model(**batch, need_rewards=reward_head, need_logps=implicit)
        rows = {"index": batch["index"]}
        if reward_head:
            rows["rewards"] = out["rewards"]
        if implicit:
            rows["implicit"] = beta * (out["logps"] - reference.logps(model, batch))
        return rows

    merged = gather_rows(model, batches, collate, rows_of, accelerator, desc)
    merged.pop("index")
    return merged


def gather_rows(
    model: RewardModel,
    batches: Sequence[list[Any]],
    collate: Callable[[list[Any]], dict[str, Any]],
    rows_of: Callable[[dict[str, Any]], dict[str, torch.Tensor]],
    accelerator: Accelerator,
    desc: str,
) -> dict[str, torch.Tensor]:
    """Run `rows_of(collate(batch))` on this process's share of `batches`, gather the per-item tensors of all
    processes and return them sorted by their "index" entry, each item once.

    Batches go round-robin to the processes, which all run the same number of them (the last ones repeated
    where needed); batches of different sizes are padded with index -1 for the gather and the padding and
    repeats are dropped afterwards.
    """
    model.eval()
    model.to(accelerator.device)
    world, rank = accelerator.num_processes, accelerator.process_index
    steps = -(-len(batches) // world)
    mine = [batches[(step * world + rank) % len(batches)] for step in range(steps)]
    parts: dict[str, list[torch.Tensor]] = {}
    show = accelerator.is_local_main_process and len(mine) > 1
    for features in tqdm(mine, desc=desc, disable=not show, leave=False):
        batch = {k: v.to(accelerator.device) if torch.is_tensor(v) else v for k, v in collate(features).items()}
        for name, values in rows_of(batch).items():
            values = values.contiguous()
            if world > 1:
                values = accelerator.gather(accelerator.pad_across_processes(values, pad_index=-1))
            parts.setdefault(name, []).append(values.cpu())
    if not parts:
        return {"index": torch.zeros(0, dtype=torch.long)}
    merged = {k: torch.cat(v) for k, v in parts.items()}
    index = merged["index"]
    order = torch.argsort(index, stable=True)
    ordered = index[order]
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[1:] = ordered[1:] != ordered[:-1]
    keep = order[first & (ordered >= 0)]
    return {k: v[keep] for k, v in merged.items()}
