"""Which pairs go into which batch: fixed-size or token-budget batches, grouped by length.

Grouping pairs of similar length makes padded batches and packed rows waste less. With a token budget the
number of pairs per batch follows their length (short pairs: many per batch, long ones: few), so every step
costs about the same.

Resuming needs every epoch to have the same number of batches, in an order fixed by (seed, epoch):
  - fixed `batch_size`: the epoch's shuffle is cut into mega-batches, each sorted by length and split into
    batches (as transformers' LengthGroupedSampler does), then the batch order is shuffled;
  - `token_budget`: the batches are formed once (seeded shuffle, mega-batches sorted by length, filled up
    to the budget), and only their order is reshuffled each epoch.

Several processes (`num_processes` > 1): `batch_size` is per process, as HF's `per_device_train_batch_size`.
The fixed-size batches are formed as global batches of `batch_size * num_processes` (exactly the batches of one
process with that batch size, same seed) and each is cut into `num_processes` consecutive per-process batches,
which accelerate's BatchSamplerShard hands out round-robin: process r gets slice r of every global batch. A token
budget is per process; a global step then covers `num_processes` consecutive budget batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from rewardkit.data.encoding import EncodedPair
from rewardkit.data.packing import packed_length

log = logging.getLogger("rewardkit.data")

MEGA_BATCH_PAIRS = 512  # pairs sorted together when grouping by length (randomness across mega-batches)


def padded_cost(pair: EncodedPair) -> int:
    """Tokens a pair occupies in a padded batch before padding to the batch's longest row: 2 rows."""
    return 2 * (len(pair.prompt_ids) + max(len(pair.chosen_ids), len(pair.rejected_ids)))


def batch_tokens(lengths: Sequence[int], padded: bool) -> int:
    """What a batch of items costs: the packed tokens, or rows padded to the longest item (lengths are per
    pair, i.e. 2 rows of half the length each)."""
    if not lengths:
        return 0
    return len(lengths) * max(lengths) if padded else sum(lengths)


def fill_to_budget(order: Sequence[int], lengths: Sequence[int], budget: int, padded: bool) -> list[list[int]]:
    """Cut `order` into consecutive batches whose cost stays within `budget` (an item over budget goes alone)."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and batch_tokens([lengths[j] for j in current] + [lengths[i]], padded) > budget:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def length_grouped(order: list[int], lengths: Sequence[int], mega_batch: int) -> list[int]:
    """Sort each run of `mega_batch` items of `order` by decreasing length."""
    out: list[int] = []
    for start in range(0, len(order), mega_batch):
        out.extend(sorted(order[start : start + mega_batch], key=lambda i: (-lengths[i], i)))
    return out


class PairBatchSampler(Sampler[list[int]]):
    """Batches of pair indices; see the module docstring. Call `set_epoch` (Trainer does) before iterating.

    lengths: tokens per pair, as the collator lays it out (`packed_length` or `padded_cost`);
    padded: the collator pads rows to the longest in the batch (the budget then counts padding too).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        *,
        batch_size: int | None = None,
        token_budget: int | None = None,
        group_by_length: bool = True,
        shuffle: bool = True,
        seed: int = 0,
        padded: bool = False,
        mega_batch: int = MEGA_BATCH_PAIRS,
        num_processes: int = 1,
    ):
        if (batch_size is None) == (token_budget is None):
            raise ValueError("give exactly one of batch_size and token_budget")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        if token_budget is not None and token_budget < 1:
            raise ValueError(f"token_budget must be >= 1, not {token_budget}")
        if not lengths:
            raise ValueError("no pairs to batch")
        if mega_batch < 1:
            raise ValueError(f"mega_batch must be >= 1, not {mega_batch}")
        if num_processes < 1:
            raise ValueError(f"num_processes must be >= 1, not {num_processes}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.group_by_length = group_by_length
        self.shuffle = shuffle
        self.seed = seed
        self.padded = padded
        self.mega_batch = mega_batch
        self.num_processes = num_processes
        self.epoch = 0
        self._fixed: list[list[int]] | None = None
        if token_budget is not None:
            self._fixed = self._budget_batches()
            over = sum(1 for b in self._fixed if len(b) == 1 and self._cost(b) > token_budget)
            if over:
                log.warning(
                    "%d pairs are longer than token_budget=%d; each forms a batch of its own", over, token_budget
                )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _cost(self, batch: list[int]) -> int:
        return batch_tokens([self.lengths[i] for i in batch], self.padded)

    def _generator(self, epoch: int | None) -> torch.Generator:
        """Randomness of one epoch (None: of the fixed token-budget batches)."""
        return torch.Generator().manual_seed(hash((self.seed, -1 if epoch is None else epoch)) & (2**63 - 1))

    def _permutation(self, n: int, g: torch.Generator) -> list[int]:
        return torch.randperm(n, generator=g).tolist() if self.shuffle else list(range(n))

    def _budget_batches(self) -> list[list[int]]:
        order = self._permutation(len(self.lengths), self._generator(None))
        if self.group_by_length:
            order = length_grouped(order, self.lengths, self.mega_batch)
        return fill_to_budget(order, self.lengths, self.token_budget, self.padded)

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of one epoch, in order."""
        g = self._generator(epoch)
        if self._fixed is not None:
            return [self._fixed[i] for i in self._permutation(len(self._fixed), g)]
        size = self.batch_size * self.num_processes  # the global batch
        order = self._permutation(len(self.lengths), g)
        if self.group_by_length:
            mega = -(-self.mega_batch // size) * size  # whole batches per mega-batch
            order = length_grouped(order, self.lengths, mega)
        chunks = [order[s : s + size] for s in range(0, len(order), size)]
        if self.group_by_length:
            chunks = [chunks[i] for i in self._permutation(len(chunks), g)]
        return [part for chunk in chunks for part in split_evenly(chunk, self.num_processes)]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches(self.epoch))

    def __len__(self) -> int:
        if self._fixed is not None:
            return len(self._fixed)
        size = self.batch_size * self.num_processes
        full, rest = divmod(len(self.lengths), size)
        return full * self.num_processes + min(rest, self.num_processes)


def split_evenly(items: list[int], parts: int) -> list[list[int]]:
    """Cut `items` into at most `parts` consecutive non-empty slices whose sizes differ by at most one."""
    base, extra = divmod(len(items), parts)
    sizes = [base + (i < extra) for i in range(parts)]
    starts = [sum(sizes[:i]) for i in range(parts)]
    return [items[s : s + n] for s, n in zip(starts, sizes) if n]


def pair_batch_sampler(
    pairs: Sequence[EncodedPair],
    *,
    packing: bool,
    batch_size: int,
    token_budget: int | None = None,
    group_by_length: bool = False,
    seed: int = 0,
    num_processes: int = 1,
) -> PairBatchSampler | None:
    """The training batch sampler a data config asks for; None keeps Trainer's random fixed-size batches."""
    if token_budget is None and not group_by_length:
        return None
    lengths = [packed_length(p) if packing else padded_cost(p) for p in pairs]
    return PairBatchSampler(
        lengths,
        batch_size=None if token_budget else batch_size,
        token_budget=token_budget,
        group_by_length=True,
        seed=seed,
        padded=not packing,
        num_processes=num_processes,
    )
