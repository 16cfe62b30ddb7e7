"""Encoded pairs → model batches (one forward for chosen and rejected together).

Batch contract shared by every collator (padded here, shared-prefix packed elsewhere):
  input_ids, attention_mask (rows × time), optional position_ids;
  reward_positions (2P,): flat index (row * time + t) of each sequence's last token (the reward is read there) —
    chosen 0..P-1, then rejected;
  logp_positions / logp_targets / logp_seq (N,): for every response token, the flat index of the hidden
    state that predicts it, the token id, and which of the 2P sequences it belongs to;
  pair_index (P,): EncodedPair.index, to look up per-pair cached values;
  margin (P,) when every pair has one; per-pair extras (P,) such as reference log-probs or priors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rewardkit.data.encoding import EncodedPair


def pair_extras(features: list[EncodedPair]) -> dict[str, torch.Tensor]:
    """Per-pair numbers shared by all collators: index, margin, and extras present on every pair."""
    out: dict[str, torch.Tensor] = {"pair_index": torch.tensor([f.index for f in features], dtype=torch.long)}
    if all(f.margin is not None for f in features):
        out["margin"] = torch.tensor([f.margin for f in features], dtype=torch.float32)
    keys = set(features[0].extras)
    for f in features[1:]:
        keys &= set(f.extras)
    for key in sorted(keys):
        out[key] = torch.tensor([f.extras[key] for f in features], dtype=torch.float32)
    return out


def collate_sequences(
    seqs: list[list[int]], prompt_lens: list[int], pad_token_id: int, pad_to_multiple_of: int | None = None
) -> dict[str, Any]:
    """Right-pad sequences (one per row) and index their reward token and response-token predictions."""
    width = max(len(s) for s in seqs)
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    input_ids = torch.full((len(seqs), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(seqs), width), dtype=torch.long)
    reward_positions, logp_positions, logp_targets, logp_seq = [], [], [], []
    for row, (seq, plen) in enumerate(zip(seqs, prompt_lens)):
        n = len(seq)
        input_ids[row, :n] = torch.tensor(seq)
        attention_mask[row, :n] = 1
        reward_positions.append(row * width + n - 1)
        logp_positions.extend(range(row * width + plen - 1, row * width + n - 1))
        logp_targets.extend(seq[plen:])
        logp_seq.extend([row] * (n - plen))
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        **index_tensors(reward_positions, logp_positions, logp_targets, logp_seq),
        "num_tokens": int(attention_mask.sum()),
    }


def index_tensors(
    reward_positions: Sequence[int], logp_positions: Sequence[int], logp_targets: Sequence[int], logp_seq: Sequence[int]
) -> dict[str, torch.Tensor]:
    """The batch contract's flat indices (docs/architecture.md) as long tensors: the reward token of each
    sequence, the positions predicting response tokens, their targets and the sequence each belongs to."""
    return {
        name: torch.tensor(values, dtype=torch.long)
        for name, values in (
            ("reward_positions", reward_positions),
            ("logp_positions", logp_positions),
            ("logp_targets", logp_targets),
            ("logp_seq", logp_seq),
        )
    }


def batch_work(batch: dict[str, Any]) -> dict[str, int]:
    """What a forward pass over `batch` computes: grid positions (padding included), real tokens, and the
    (query, key) pairs attention computes among real tokens (causal rows, or the Trues of a packed 4D mask less
    the padding that attends to itself). The basis of FLOP counts (benchmarks, the server's statistics)."""
    mask = batch["attention_mask"]
    grid = batch["input_ids"].numel()
    if mask.dim() == 2:
        lengths = mask.sum(-1).long()
        return {
            "grid_tokens": grid,
            "tokens": int(lengths.sum()),
            "attention_pairs": int((lengths * (lengths + 1) // 2).sum()),
        }
    real = int(batch["num_tokens"])
    return {"grid_tokens": grid, "tokens": real, "attention_pairs": int(mask.sum()) - (grid - real)}


class PaddedPairCollator:
    """Right-padded rows: chosen sequences first, then rejected, one sequence per row."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None):
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[EncodedPair]) -> dict[str, Any]:
        seqs = [f.prompt_ids + f.chosen_ids for f in features] + [f.prompt_ids + f.rejected_ids for f in features]
        batch = collate_sequences(
            seqs, [len(f.prompt_ids) for f in features] * 2, self.pad_token_id, self.pad_to_multiple_of
        )
        batch.update(pair_extras(features))
        return batch


class SequenceCollator:
    """Single (prompt_ids, response_ids) sequences for scoring; `index` keeps their input order."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[tuple[int, list[int], list[int]]]) -> dict[str, Any]:
        batch = collate_sequences([p + r for _, p, r in features], [len(p) for _, p, _ in features], self.pad_token_id)
        batch["index"] = torch.tensor([i for i, _, _ in features], dtype=torch.long)
        return batch
