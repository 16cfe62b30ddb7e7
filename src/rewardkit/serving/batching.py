"""Dynamic batching: items of concurrent requests are grouped into one forward pass.

One asyncio queue, one worker. The worker takes the oldest waiting item, waits up to `wait_ms` for more,
and closes the batch at `max_batch` items or when the next item would push the batch past `max_tokens`
packed tokens (items with the same prompt count it once: the scorer computes a shared prompt once, see
data/packing.py); that item opens the next batch. Scoring runs in a single
dedicated thread (torch releases the GIL), so the event loop keeps accepting requests meanwhile.

Failures stay with their item: when scoring a batch raises, the batch is split in halves and each is scored
again (down to single items), so only the items that fail on their own fail, with ItemError; the items with a
non-finite reward are scored again the same way (packed rows share attention, see score_isolated), and an item
fails when it has one alone. The request holding a failed item gets ItemFailed naming it; the other requests of
the batch get their rewards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rewardkit.serving.config import BatchingConfig
from rewardkit.serving.scorer import NonFiniteRewards, PreparedItem

log = logging.getLogger("rewardkit.serving")


class Overloaded(RuntimeError):
    """The queue is full: the client should retry later (HTTP 503)."""


class ShuttingDown(RuntimeError):
    """The batcher stopped before the item was scored (HTTP 503)."""


class ItemError(RuntimeError):
    """Scoring failed for this item on its own: `status` 422 for a non-finite reward, 500 for an exception."""

    def __init__(self, message: str, *, status: int, kind: str):
        super().__init__(message)
        self.status, self.kind = status, kind


class ItemFailed(RuntimeError):
    """Item `index` of a request could not be scored (`error` says why)."""

    def __init__(self, index: int, error: ItemError):
        super().__init__(f"item {index}: {error}")
        self.index, self.error = index, error


Score = Callable[[Sequence[PreparedItem]], Sequence[float]]


def score_isolated(score: Score, items: Sequence[PreparedItem]) -> tuple[list[float | ItemError], int]:
    """Scores of `items`, an ItemError in place of each item that fails on its own; and how many extra scoring
    calls finding them took. A raising call is split in halves, recursively; so are the items of a call that got
    non-finite rewards (see below)."""
    try:
        scores: list[float] = [float(x) for x in score(items)]
        if len(scores) != len(items):
            raise RuntimeError(f"the scorer returned {len(scores)} scores for {len(items)} items")
    except NonFiniteRewards as e:
        scores = list(e.rewards)
    except Exception as e:  # noqa: BLE001 - an exception belongs to some item(s) of the batch: find them
        if len(items) == 1:
            log.warning("scoring an item failed: %s", e, exc_info=True)
            return [ItemError(f"scoring failed: {type(e).__name__}: {e}", status=500, kind="scoring_failed")], 0
        mid = len(items) // 2
        left, calls_left = score_isolated(score, items[:mid])
        right, calls_right = score_isolated(score, items[mid:])
        return left + right, 2 + calls_left + calls_right
    if len(items) == 1:
        x = scores[0]
        return [
            x
            if math.isfinite(x)
            else ItemError(f"the reward is not finite ({x})", status=422, kind="non_finite_reward")
        ], 0
    # Packed rows hold several items (prompt groups, groups side by side): a non-finite hidden state of one item
    # reaches the others through attention (a masked key's weight is 0, but 0 x NaN is NaN). So the items with a
    # non-finite reward are scored again, in halves, down to single items, before any of them fails.
    bad = [i for i, x in enumerate(scores) if not math.isfinite(x)]
    if not bad:
        return list(scores), 0
    again = [items[i] for i in bad]
    halves = [again] if len(again) == 1 else [again[: len(again) // 2], again[len(again) // 2 :]]
    out: list[float | ItemError] = list(scores)
    calls = 0
    rescored: list[float | ItemError] = []
    for half in halves:
        part, extra = score_isolated(score, half)
        rescored += part
        calls += 1 + extra
    for i, x in zip(bad, rescored):
        out[i] = x
    return out, calls


@dataclass
class _Entry:
    item: PreparedItem
    future: asyncio.Future


class PackedBudget:
    """The size of a batch as packed scoring lays it out: an item whose prompt is already in the batch adds its
    other tokens only."""

    def __init__(self) -> None:
        self.items = 0
        self.tokens = 0
        self.prompts: set[Hashable] = set()

    def cost(self, item: PreparedItem) -> int:
        shared = item.prompt_key is not None and item.prompt_key in self.prompts
        return item.num_tokens - item.prompt_tokens if shared else item.num_tokens

    def fits(self, item: PreparedItem, config: BatchingConfig) -> bool:
        return self.items < config.max_batch and self.tokens + self.cost(item) <= config.max_tokens

    def add(self, item: PreparedItem) -> None:
        self.tokens += self.cost(item)
        self.items += 1
        if item.prompt_key is not None:
            self.prompts.add(item.prompt_key)


def packed_tokens(items: Sequence[PreparedItem]) -> int:
    budget = PackedBudget()
    for item in items:
        budget.add(item)
    return budget.tokens


class DynamicBatcher:
    """`await submit(items)` → their scores; start() / stop() inside the running event loop."""

    def __init__(self, score: Score, config: BatchingConfig):
        self.score = score
        self.config = config
        self.stats: Counter[str] = Counter()
        self._queue: asyncio.Queue[_Entry] | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._carry: _Entry | None = None
        self._taken: list[_Entry] = []  # off the queue, not yet answered: the batch being formed or scored
        self._pending = 0

    @property
    def pending(self) -> int:
        """Items accepted and not yet answered (waiting or being scored)."""
        return self._pending

    async def start(self) -> None:
        if self._worker is not None:
            raise RuntimeError("the batcher is already running")
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardkit-scoring")
        self._worker = asyncio.create_task(self._run(), name="rewardkit-batcher")

    async def stop(self) -> None:
        """Stop the worker; items still waiting fail with ShuttingDown."""
        if self._worker is None:
            return
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        waiting = self._taken + ([self._carry] if self._carry else [])
        while self._queue is not None and not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for entry in waiting:
            if not entry.future.done():
                entry.future.set_exception(ShuttingDown("the server is shutting down"))
        self._executor.shutdown(wait=True)
        self._worker, self._carry, self._taken = None, None, []

    async def submit(self, items: Sequence[PreparedItem]) -> list[float]:
        if self._worker is None or self._worker.done():
            raise ShuttingDown("the scoring worker is not running")
        if self.pending + len(items) > self.config.max_queue:
            self.stats["rejected_overloaded"] += 1
            raise Overloaded(f"{self.pending} items are in progress (max_queue {self.config.max_queue})")
        loop = asyncio.get_running_loop()
        entries = [_Entry(item, loop.create_future()) for item in items]
        for entry in entries:
            self._queue.put_nowait(entry)
        self.stats["requests"] += 1
        self._pending += len(entries)
        try:
            results = await asyncio.gather(*(e.future for e in entries), return_exceptions=True)
        finally:
            self._pending -= len(entries)
        for index, result in enumerate(results):  # every outcome was retrieved: no "never retrieved" warnings
            if isinstance(result, ItemError):
                raise ItemFailed(index, result)
            if isinstance(result, BaseException):
                raise result
        return list(results)

    async def _next_batch(self) -> list[_Entry]:
        loop = asyncio.get_running_loop()
        first = self._carry or await self._queue.get()
        self._carry = None
        batch, budget = [first], PackedBudget()
        budget.add(first.item)
        self._taken = batch
        deadline = loop.time() + self.config.wait_ms / 1000
        while len(batch) < self.config.max_batch:
            try:
                remaining = deadline - loop.time()
                entry = (
                    self._queue.get_nowait() if remaining <= 0 else await asyncio.wait_for(self._queue.get(), remaining)
                )
            except (TimeoutError, asyncio.QueueEmpty):
                break
            if not budget.fits(entry.item, self.config):
                self._carry = entry
                break
            batch.append(entry)
            budget.add(entry.item)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [e for e in await self._next_batch() if not e.future.done()]  # done: request cancelled
            self._taken = batch
            if not batch:
                continue
            scores, retries = await loop.run_in_executor(
                self._executor, score_isolated, self.score, [e.item for e in batch]
            )
            self._taken = []
            self.stats["batches"] += 1
            self.stats["items"] += len(batch)
            self.stats["packed_tokens"] += packed_tokens([e.item for e in batch])
            self.stats["isolation_calls"] += retries
            for entry, score in zip(batch, scores):
                if isinstance(score, ItemError):
                    self.stats["failed_items"] += 1
                if not entry.future.done():
                    entry.future.set_result(score)  # an ItemError too: submit() raises it for its request
