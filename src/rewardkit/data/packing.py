"""Shared-prefix packing: sequences that share a prefix compute it once; several groups per row.

A group is k sequences with a common token prefix: the chosen and rejected sequences of a preference pair
(prompt + chosen, prompt + rejected: a group of 2), or the completions of one prompt being scored (RL samples
4-16 per prompt: GRPO, RLOO). A group is laid out as

    [ shared prefix | suffix 1 | suffix 2 | ... | suffix k ]    position ids 0..c-1 | c..|s1|-1 | ... | c..|sk|-1

with a block mask in which every token sees its own group only, causally, and a suffix sees the prefix and
itself but never another suffix. Every sequence then gets exactly the hidden states it would get in its own
row, for fewer tokens. Groups are bin-packed into rows of at most `row_tokens` tokens, so there is (almost)
no padding either.

The batch follows the contract in data/collate.py: `attention_mask` is a 4D boolean mask
(rows, 1, T, T), True = attend; `reward_positions` / `logp_positions` are flat indices into rows x T.
The first token of a suffix is predicted by the hidden state of the last prefix token (shared by the group).
Pairs: `PackedPairCollator` (training, pair scoring). Single (prompt, response) items: `PackedSequenceCollator`
groups the items of a batch by their prompt token ids (offline scoring, the reward server).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from rewardkit.data.collate import PaddedPairCollator, index_tensors, pair_extras
from rewardkit.data.encoding import EncodedPair, common_prefix_length
from rewardkit.data.record import DataError

PREFIX = 0  # segment of the shared prefix; suffix j of a group is segment j + 1
CHOSEN, REJECTED = 1, 2  # the two suffixes of a packed pair
PAD_SEGMENT = -1


def shared_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Leading tokens all `sequences` have in common, capped so that each keeps at least its last token (where
    its reward is read) in its own suffix."""
    shared = min(len(s) for s in sequences) - 1
    first = sequences[0]
    for seq in sequences[1:]:
        shared = common_prefix_length(first[:shared], seq)
    return shared


@dataclass(frozen=True)
class PackedGroup:
    """Sequences laid out as `shared prefix + suffix 1 + ... + suffix k`.

    sequences: the full token sequences (prompt + response); `prompt_len`: where every sequence's response
    starts (the tokens a log-prob is taken of); `shared`: their common prefix (see shared_prefix_length),
    which may reach into the responses.
    """

    sequences: tuple[list[int], ...]
    prompt_len: int
    shared: int

    @classmethod
    def of(cls, sequences: Sequence[list[int]], prompt_len: int) -> PackedGroup:
        return cls(tuple(sequences), prompt_len, shared_prefix_length(sequences))

    @property
    def length(self) -> int:
        """Tokens in the packed layout."""
        return self.shared + sum(len(s) - self.shared for s in self.sequences)

    @property
    def tokens(self) -> list[int]:
        out = list(self.sequences[0])
        for seq in self.sequences[1:]:
            out.extend(seq[self.shared :])
        return out

    @cached_property
    def suffix_starts(self) -> tuple[int, ...]:
        """Where each sequence's suffix begins in the layout."""
        starts, at = [], self.shared
        for seq in self.sequences:
            starts.append(at)
            at += len(seq) - self.shared
        return tuple(starts)

    def offset(self, j: int, t: int) -> int:
        """Where token t of sequence j sits in the layout: in the shared prefix, or in its own suffix."""
        return t if t < self.shared else self.suffix_starts[j] + t - self.shared

    def position_ids(self) -> list[int]:
        out = list(range(len(self.sequences[0])))
        for seq in self.sequences[1:]:
            out.extend(range(self.shared, len(seq)))
        return out

    def segments(self) -> list[int]:
        out = [PREFIX] * self.shared
        for j, seq in enumerate(self.sequences):
            out.extend([j + 1] * (len(seq) - self.shared))
        return out


class PackedPair(PackedGroup):
    """One pair as a group of two: `shared prefix + chosen suffix + rejected suffix`.

    chosen = prompt + chosen response (A), rejected = prompt + rejected response (B).
    """

    @classmethod
    def from_encoded(cls, pair: EncodedPair) -> PackedPair:
        if not pair.prompt_ids:
            raise DataError(
                "an empty prompt leaves no hidden state to predict the first response token",
                index=pair.index,
                field="prompt_ids",
            )
        for name, ids in (("chosen_ids", pair.chosen_ids), ("rejected_ids", pair.rejected_ids)):
            if not ids:
                raise DataError("empty response", index=pair.index, field=name)
        return cls.of((pair.prompt_ids + pair.chosen_ids, pair.prompt_ids + pair.rejected_ids), len(pair.prompt_ids))

    @property
    def chosen(self) -> list[int]:
        return self.sequences[0]

    @property
    def rejected(self) -> list[int]:
        return self.sequences[1]

    def chosen_offset(self, t: int) -> int:
        """Where token t of the chosen sequence sits in the layout."""
        return self.offset(0, t)

    def rejected_offset(self, t: int) -> int:
        """Where token t of the rejected sequence sits: in the shared prefix, or in the rejected suffix."""
        return self.offset(1, t)


def packed_length(pair: EncodedPair) -> int:
    """Tokens a pair takes in the packed layout (the cost the token-budget batch sampler counts)."""
    return PackedPair.from_encoded(pair).length


def prompt_groups(
    items: Sequence[tuple[list[int], list[int]]], row_tokens: int | None = None, max_items: int | None = None
) -> tuple[list[PackedGroup], list[list[int]]]:
    """(prompt_ids, response_ids) items → groups of the items with equal prompt ids (in first-seen order),
    and the item positions of each group's sequences.

    A group is cut into parts (each with the prompt once) when its packed tokens would pass `row_tokens` or
    its items `max_items`, so that rows stay narrow: the dense attention kernel computes every masked block.
    A prompt may be empty (a one-token text scored as is: evaluation.evaluate.text_sequence); a response not.
    """
    members: dict[tuple[int, ...], list[int]] = {}
    for i, (prompt, response) in enumerate(items):
        if not response:
            raise DataError(
                "scoring needs a non-empty response (the reward is read at its last token)",
                index=i,
                field="response_ids",
            )
        members.setdefault(tuple(prompt), []).append(i)
    groups: list[PackedGroup] = []
    parts: list[list[int]] = []
    for prompt, idx in members.items():
        part: list[int] = []
        tokens = len(prompt)
        for i in idx:
            size = len(items[i][1])
            if part and (
                (row_tokens is not None and tokens + size > row_tokens)
                or (max_items is not None and len(part) >= max_items)
            ):
                parts.append(part)
                part, tokens = [], len(prompt)
            part.append(i)
            tokens += size
        parts.append(part)
        while len(groups) < len(parts):
            group = parts[len(groups)]
            groups.append(PackedGroup.of([items[i][0] + items[i][1] for i in group], len(prompt)))
    return groups, parts


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
    """(T,) segments and group ids of one row → (T, T) boolean mask, True = query may attend to key.

    A query sees keys of its own group, not after itself, that are prefix tokens or in its own segment;
    padding (segment -1) sees only itself, so no attention row is empty.
    """
    t = segments.numel()
    causal = torch.ones(t, t, dtype=torch.bool).tril_()
    same_group = owners[:, None] == owners[None, :]
    visible_kind = (segments[None, :] == PREFIX) | (segments[:, None] == segments[None, :])
    mask = causal & same_group & visible_kind
    pad = segments == PAD_SEGMENT
    mask[pad] = False
    mask[pad, pad.nonzero().squeeze(-1)] = True
    return mask


def plan_rows(
    lengths: Sequence[int], row_tokens: int | None, pad_to_multiple_of: int | None = None
) -> tuple[list[list[int]], int]:
    """Rows of groups (see balanced_rows; None: all in one row) and the row width: the widest row, rounded up to
    `pad_to_multiple_of`."""
    rows = balanced_rows(lengths, row_tokens if row_tokens is not None else sum(lengths))
    width = max(sum(lengths[i] for i in row) for row in rows)
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    return rows, width


def layout_groups(
    groups: Sequence[PackedGroup],
    rows: list[list[int]],
    width: int,
    pad_token_id: int,
    seq_ids: Sequence[Sequence[int]],
) -> dict[str, Any]:
    """Packed groups → the batch contract (data/collate.py). Groups sit one after another in their row, in
    `rows` order; sequence j of group k is sequence `seq_ids[k][j]` of the batch (its reward position and
    log-prob entries)."""
    n_seqs = sum(len(g.sequences) for g in groups)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    segments = torch.full((len(rows), width), PAD_SEGMENT, dtype=torch.long)
    owners = torch.full((len(rows), width), -1, dtype=torch.long)
    reward_positions = [0] * n_seqs
    logp_positions: list[int] = []
    logp_targets: list[int] = []
    logp_seq: list[int] = []
    for r, row in enumerate(rows):
        start = 0
        for k in row:
            g = groups[k]
            end = start + g.length
            input_ids[r, start:end] = torch.tensor(g.tokens)
            position_ids[r, start:end] = torch.tensor(g.position_ids())
            segments[r, start:end] = torch.tensor(g.segments())
            owners[r, start:end] = k
            base = r * width + start
            for j, seq in enumerate(g.sequences):
                seq_id = seq_ids[k][j]
                reward_positions[seq_id] = base + g.offset(j, len(seq) - 1)
                logp_positions.extend(base + g.offset(j, t - 1) for t in range(g.prompt_len, len(seq)))
                logp_targets.extend(seq[g.prompt_len :])
                logp_seq.extend([seq_id] * (len(seq) - g.prompt_len))
            start = end
    mask = torch.stack([block_mask(segments[r], owners[r]) for r in range(len(rows))]).unsqueeze(1)
    return {
        "input_ids": input_ids,
        "attention_mask": mask,
        "position_ids": position_ids,
        **index_tensors(reward_positions, logp_positions, logp_targets, logp_seq),
        "num_tokens": int((segments != PAD_SEGMENT).sum()),
    }


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
        rows, width = plan_rows([p.length for p in packed], self.row_tokens, self.pad_to_multiple_of)
        batch = self._layout(packed, rows, width)
        batch.update(pair_extras(features))
        return batch

    def _layout(self, packed: list[PackedPair], rows: list[list[int]], width: int) -> dict[str, Any]:
        """Chosen sequences are 0..P-1 of the batch, rejected P..2P-1."""
        n = len(packed)
        return layout_groups(packed, rows, width, self.pad_token_id, [(k, n + k) for k in range(n)])


class PackedSequenceCollator:
    """(index, prompt_ids, response_ids) items → packed rows in which the items of a batch that have the same
    prompt ids share one copy of it (`prompt_groups`); same batch keys as SequenceCollator (data/collate.py):
    sequence i of the batch is feature i, `index` holds their indices.

    row_tokens / max_group: groups are cut into parts of at most that many tokens / items (each part
    computes the prompt again), and parts are bin-packed into rows of at most row_tokens tokens.
    """

    def __init__(
        self,
        pad_token_id: int,
        row_tokens: int | None = 1024,
        max_group: int | None = None,
        pad_to_multiple_of: int | None = None,
    ):
        if row_tokens is not None and row_tokens < 2:
            raise ValueError(f"row_tokens must be >= 2 or None, not {row_tokens}")
        self.pad_token_id = pad_token_id
        self.row_tokens = row_tokens
        self.max_group = max_group
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[tuple[int, list[int], list[int]]]) -> dict[str, Any]:
        groups, members = prompt_groups([(p, r) for _, p, r in features], self.row_tokens, self.max_group)
        rows, width = plan_rows([g.length for g in groups], self.row_tokens, self.pad_to_multiple_of)
        batch = layout_groups(groups, rows, width, self.pad_token_id, members)
        batch["index"] = torch.tensor([i for i, _, _ in features], dtype=torch.long)
        return batch


def grouped_batches(
    items: Sequence[tuple[list[int], list[int]]],
    batch_size: int,
    row_tokens: int | None = 1024,
    token_budget: int | None = None,
) -> list[list[int]]:
    """Batches (lists of item positions) for scoring packed items: items with the same prompt go together
    (in parts of at most `batch_size` items and `row_tokens` tokens), parts of similar length share a batch,
    and a batch holds at most `batch_size` items and `token_budget` packed tokens (a part over it goes alone).
    """
    groups, parts = prompt_groups(items, row_tokens, batch_size)
    order = sorted(range(len(groups)), key=lambda k: (groups[k].length, k))
    batches: list[list[int]] = []
    current: list[int] = []
    tokens = 0
    for k in order:
        part, length = parts[k], groups[k].length
        if current and (
            len(current) + len(part) > batch_size or (token_budget is not None and tokens + length > token_budget)
        ):
            batches.append(current)
            current, tokens = [], 0
        current.extend(part)
        tokens += length
    if current:
        batches.append(current)
    return batches


def pair_collator(
    pad_token_id: int, packing: bool = True, row_tokens: int | None = 1024
) -> PackedPairCollator | PaddedPairCollator:
    """The training / scoring collator: shared-prefix packed rows, or one padded sequence per row."""
    return PackedPairCollator(pad_token_id, row_tokens) if packing else PaddedPairCollator(pad_token_id)
