"""Dynamic batching: items of concurrent requests are grouped into one forward pass.

One asyncio queue, one worker. The worker takes the oldest waiting item, waits up to `wait_ms` for more,
and closes the batch at `max_batch` items or when the next item would push the padded size
(items x longest) past `max_tokens`; that item opens the next batch. Scoring runs in a single
dedicated thread (torch releases the GIL), so the event loop keeps accepting requests meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

from rewardkit.serving.config import BatchingConfig
from rewardkit.serving.scorer import PreparedItem

log = logging.getLogger("rewardkit.serving")


class Overloaded(RuntimeError):
    """The queue is full: the client should retry later (HTTP 503)."""


class ShuttingDown(RuntimeError):
    """The batcher stopped before the item was scored (HTTP 503)."""


@dataclass
class _Entry:
    item: PreparedItem
    future: asyncio.Future


def fits(count: int, longest: int, item: PreparedItem, config: BatchingConfig) -> bool:
    """Whether `item` may join a batch of `count` items whose longest has `longest` tokens."""
    return count < config.max_batch and (count + 1) * max(longest, item.num_tokens) <= config.max_tokens


class DynamicBatcher:
    """`await submit(items)` → their scores; start() / stop() inside the running event loop."""

    def __init__(self, score: Callable[[Sequence[PreparedItem]], list[float]], config: BatchingConfig):
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
        try:
            await self._worker
        except asyncio.CancelledError:
            pass
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
        for result in results:  # every outcome was retrieved: no "exception never retrieved" warnings
            if isinstance(result, BaseException):
                raise result
        return list(results)

    async def _next_batch(self) -> list[_Entry]:
        loop = asyncio.get_running_loop()
        first = self._carry or await self._queue.get()
        self._carry = None
        batch, longest = [first], first.item.num_tokens
        self._taken = batch
        deadline = loop.time() + self.config.wait_ms / 1000
        while len(batch) < self.config.max_batch:
            try:
                remaining = deadline - loop.time()
                entry = (self._queue.get_nowait() if remaining <= 0
                         else await asyncio.wait_for(self._queue.get(), remaining))
            except (asyncio.QueueEmpty, asyncio.TimeoutError):
                break
            if not fits(len(batch), longest, entry.item, self.config):
                self._carry = entry
                break
            batch.append(entry)
            longest = max(longest, entry.item.num_tokens)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [e for e in await self._next_batch() if not e.future.done()]  # done: request cancelled
            self._taken = batch
            if not batch:
                continue
            try:
                scores = await loop.run_in_executor(self._executor, self.score, [e.item for e in batch])
                if len(scores) != len(batch):
                    raise RuntimeError(f"the scorer returned {len(scores)} scores for {len(batch)} items")
            except Exception as e:  # noqa: BLE001 - the failure belongs to these requests, the worker goes on
                log.exception("scoring a batch of %d items failed", len(batch))
                for entry in batch:
                    if not entry.future.done():
                        entry.future.set_exception(e)
                self._taken = []
                continue
            self._taken = []
            self.stats["batches"] += 1
            self.stats["items"] += len(batch)
            self.stats["padded_tokens"] += len(batch) * max(e.item.num_tokens for e in batch)
            for entry, score in zip(batch, scores):
                if not entry.future.done():
                    entry.future.set_result(score)
