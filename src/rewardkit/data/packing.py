"""Shared-prefix packing: each pair's common prefix once, then both suffixes; several pairs per row.

prompt + chosen and prompt + rejected share their prompt (HH dialogues share everything but the last turn,
and the two responses may start alike too). A packed pair is laid out as

    [ shared prefix | chosen suffix | rejected suffix ]      position ids 0..c-1 | c..|A|-1 | c..|B|-1

with a block mask in which every token sees its own pair only, causally, and a suffix sees the prefix and
itself but never the other suffix. Chosen and rejected then get exactly the hidden states they would get
in separate rows, for fewer tokens. Pairs are bin-packed into rows of at most `row_tokens` tokens, so
there is (almost) no padding either.

The batch follows the contract in data/collate.py: `attention_mask` is a 4D boolean mask
(rows, 1, T, T), True = attend; `reward_positions` / `logp_positions` are flat indices into rows x T.
The first token of a suffix is predicted by the hidden state of the last prefix token (shared by both).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from rewardkit.data.collate import PaddedPairCollator, index_tensors, pair_extras
from rewardkit.data.encoding import EncodedPair, common_prefix_length
from rewardkit.data.record import DataError

PREFIX, CHOSEN, REJECTED = 0, 1, 2  # segment kinds in a packed pair
PAD_SEGMENT = -1


@dataclass(frozen=True)
class PackedPair:
    """One pair as `shared prefix + chosen suffix + rejected suffix`.

    chosen = prompt + chosen response (A), rejected = prompt + rejected response (B). `shared` is their common
    token prefix, capped so each suffix keeps at least its last token (where the reward is read).
    """

    chosen: list[int]
    rejected: list[int]
    prompt_len: int
    shared: int

    @classmethod
    def from_encoded(cls, pair: EncodedPair) -> PackedPair:
        if not pair.prompt_ids:
            raise DataError("an empty prompt leaves no hidden state to predict the first response token",
                            index=pair.index, field="prompt_ids")
        for name, ids in (("chosen_ids", pair.chosen_ids), ("rejected_ids", pair.rejected_ids)):
            if not ids:
                raise DataError("empty response", index=pair.index, field=name)
        chosen = pair.prompt_ids + pair.chosen_ids
        rejected = pair.prompt_ids + pair.rejected_ids
        shared = min(common_prefix_length(chosen, rejected), len(chosen) - 1, len(rejected) - 1)
        return cls(chosen, rejected, len(pair.prompt_ids), shared)

    @property
    def length(self) -> int:
        """Tokens in the packed layout."""
        return len(self.chosen) + len(self.rejected) - self.shared

    @property
    def tokens(self) -> list[int]:
        return self.chosen + self.rejected[self.shared:]

    def chosen_offset(self, t: int) -> int:
        """Where token t of the chosen sequence sits in the layout."""
        return t

    def rejected_offset(self, t: int) -> int:
        """Where token t of the rejected sequence sits: in the shared prefix, or in the rejected suffix."""
        return t if t < self.shared else len(self.chosen) + t - self.shared

    def position_ids(self) -> list[int]:
        return list(range(len(self.chosen))) + list(range(self.shared, len(self.rejected)))

    def segments(self) -> list[int]:
        c, a, b = self.shared, len(self.chosen), len(self.rejected)
        return [PREFIX] * c + [CHOSEN] * (a - c) + [REJECTED] * (b - c)


def packed_length(pair: EncodedPair) -> int:
    """Tokens a pair takes in the packed layout (the cost the token-budget batch sampler counts)."""
    return PackedPair.from_encoded(pair).length


def balanced_rows(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Split items (indices into `lengths`) into the fewest rows of at most max(capacity, longest item) tokens,
    balancing the rows (longest item first, onto the shortest row) so that padding to the widest row is small.
    Items within a row keep decreasing length order."""
    if not lengths:
        return []
    limit = max(capacity, max(lengths))
    order = sorted(range(len(lengths)), key=lambda k: (-lengths[k], k))
    n_rows = max(1, -(-sum(lengths) // limit))
    while True:
        rows: list[list[int]] = [[] for _ in range(n_rows)]
        loads = [(0, r) for r in range(n_rows)]  # a heap of (tokens, row)
        for i in order:
            load, r = heapq.heappop(loads)
            rows[r].append(i)
            heapq.heappush(loads, (load + lengths[i], r))
        if max(load for load, _ in loads) <= limit:
            return [row for row in rows if row]
        n_rows += 1


def block_mask(segments: torch.Tensor, owners: torch.Tensor) -> torch.Tensor:
    """(T,) segment kinds and pair ids of one row → (T, T) boolean mask, True = query may attend to key.

    A query sees keys of its own pair, not after itself, that are prefix tokens or in its own segment;
    padding (segment -1) sees only itself, so no attention row is empty.
    """
    t = segments.numel()
    causal = torch.ones(t, t, dtype=torch.bool).tril_()
    same_pair = owners[:, None] == owners[None, :]
    visible_kind = (segments[None, :] == PREFIX) | (segments[:, None] == segments[None, :])
    mask = causal & same_pair & visible_kind
    pad = segments == PAD_SEGMENT
    mask[pad] = False
    mask[pad, pad.nonzero().squeeze(-1)] = True
    return mask


class PackedPairCollator:
    """Shared-prefix packed rows (see the module docstring); same batch keys as PaddedPairCollator.

    row_tokens: most tokens per row (pairs are bin-packed up to it; a longer pair gets its own row). None puts
    every pair of the batch in one row. The row width T is the longest row, rounded up to
    `pad_to_multiple_of`.
    """

    def __init__(self, pad_token_id: int, row_tokens: int | None = 1024, pad_to_multiple_of: int | None = None):
        if row_tokens is not None and row_tokens < 2:
            raise ValueError(f"row_tokens must be >= 2 or None, not {row_tokens}")
        self.pad_token_id = pad_token_id
        self.row_tokens = row_tokens
        self.pad_to_multiple_of = pad_to_multiple_of

    @staticmethod
    def length(pair: EncodedPair) -> int:
        return packed_length(pair)

    def __call__(self, features: list[EncodedPair]) -> dict[str, Any]:
        packed = [PackedPair.from_encoded(f) for f in features]
        lengths = [p.length for p in packed]
        capacity = self.row_tokens if self.row_tokens is not None else sum(lengths)
        rows = balanced_rows(lengths, capacity)
        width = max(sum(lengths[i] for i in row) for row in rows)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = self._layout(packed, rows, width)
        batch.update(pair_extras(features))
        return batch

    def _layout(self, packed: list[PackedPair], rows: list[list[int]], width: int) -> dict[str, Any]:
        n_pairs = len(packed)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        position_ids = torch.zeros((len(rows), width), dtype=torch.long)
        segments = torch.full((len(rows), width), PAD_SEGMENT, dtype=torch.long)
        owners = torch.full((len(rows), width), -1, dtype=torch.long)
        reward_positions = [0] * (2 * n_pairs)
        logp_positions: list[int] = []
        logp_targets: list[int] = []
        logp_seq: list[int] = []
        for r, row in enumerate(rows):
            start = 0
            for k in row:
                p = packed[k]
                end = start + p.length
                input_ids[r, start:end] = torch.tensor(p.tokens)
                position_ids[r, start:end] = torch.tensor(p.position_ids())
                segments[r, start:end] = torch.tensor(p.segments())
                owners[r, start:end] = k
                base = r * width + start
                for seq_id, seq, offset in ((k, p.chosen, p.chosen_offset),
                                            (n_pairs + k, p.rejected, p.rejected_offset)):
                    reward_positions[seq_id] = base + offset(len(seq) - 1)
                    logp_positions.extend(base + offset(t - 1) for t in range(p.prompt_len, len(seq)))
                    logp_targets.extend(seq[p.prompt_len:])
                    logp_seq.extend([seq_id] * (len(seq) - p.prompt_len))
                start = end
        mask = torch.stack([block_mask(segments[r], owners[r]) for r in range(len(rows))]).unsqueeze(1)
        return {
            "input_ids": input_ids,
            "attention_mask": mask,
            "position_ids": position_ids,
            **index_tensors(reward_positions, logp_positions, logp_targets, logp_seq),
            "num_tokens": int((segments != PAD_SEGMENT).sum()),
        }


def pair_collator(pad_token_id: int, packing: bool = True, row_tokens: int | None = 1024
                  ) -> PackedPairCollator | PaddedPairCollator:
    """The training / scoring collator: shared-prefix packed rows, or one padded sequence per row."""
    return PackedPairCollator(pad_token_id, row_tokens) if packing else PaddedPairCollator(pad_token_id)
