"""DynamicBatcher: grouping of concurrent items under the batch / token budget, failures, overload, stop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rewardkit.serving.batching import DynamicBatcher, Overloaded, ShuttingDown
from rewardkit.serving.config import BatchingConfig
from rewardkit.serving.scorer import PreparedItem


class Doubler:
    """Scores payload x as 2x and records the payloads of every batch."""

    def __init__(self, fail_on: object = None, gate: threading.Event | None = None):
        self.batches: list[list[object]] = []
        self.fail_on, self.gate = fail_on, gate

    def __call__(self, batch: list[PreparedItem]) -> list[float]:
        if self.gate is not None:
            self.gate.wait(10)
        payloads = [p.payload for p in batch]
        self.batches.append(payloads)
        if self.fail_on in payloads:
            raise RuntimeError("bad batch")
        return [2.0 * p for p in payloads]


def item(x: int, tokens: int = 1) -> PreparedItem:
    return PreparedItem(x, tokens)


async def submit_all(batcher: DynamicBatcher, groups: list[list[PreparedItem]]) -> list:
    await batcher.start()
    try:
        return await asyncio.gather(*(batcher.submit(g) for g in groups), return_exceptions=True)
    finally:
        await batcher.stop()


def test_concurrent_items_share_batches_up_to_max_batch():
    score = Doubler()
    batcher = DynamicBatcher(score, BatchingConfig(max_batch=4, wait_ms=50))
    results = asyncio.run(submit_all(batcher, [[item(i)] for i in range(10)]))
    assert results == [[2.0 * i] for i in range(10)]
    assert [len(b) for b in score.batches] == [4, 4, 2]
    assert batcher.stats["batches"] == 3 and batcher.stats["items"] == 10 and batcher.stats["requests"] == 10


def test_token_budget_closes_a_batch_and_the_next_item_opens_the_next_one():
    score = Doubler()
    batcher = DynamicBatcher(score, BatchingConfig(max_batch=8, max_tokens=40, wait_ms=50))
    groups = [[item(1, 10), item(2, 10), item(3, 30), item(4, 10)], [item(5, 100)]]
    results = asyncio.run(submit_all(batcher, groups))
    assert results == [[2.0, 4.0, 6.0, 8.0], [10.0]]
    # 3 x 30 > 40 closes [1, 2]; [3, 4] is 2 x 30 > 40 too; an item over the budget is scored alone
    assert score.batches == [[1, 2], [3], [4], [5]]


def test_a_failed_batch_fails_its_requests_only():
    score = Doubler(fail_on=99)
    batcher = DynamicBatcher(score, BatchingConfig(max_batch=1, wait_ms=0))
    results = asyncio.run(submit_all(batcher, [[item(1)], [item(99)], [item(3)]]))
    assert results[0] == [2.0] and results[2] == [6.0]
    assert isinstance(results[1], RuntimeError)


def test_a_full_queue_refuses_new_items():
    async def scenario():
        batcher = DynamicBatcher(Doubler(), BatchingConfig(max_queue=3))
        await batcher.start()
        try:
            with pytest.raises(Overloaded):
                await batcher.submit([item(i) for i in range(4)])
            return await batcher.submit([item(i) for i in range(3)])
        finally:
            await batcher.stop()

    assert asyncio.run(scenario()) == [0.0, 2.0, 4.0]


def test_stop_fails_items_still_waiting_and_submit_needs_a_running_worker():
    gate = threading.Event()

    async def scenario():
        batcher = DynamicBatcher(Doubler(gate=gate), BatchingConfig(max_batch=1, wait_ms=0))
        with pytest.raises(ShuttingDown):
            await batcher.submit([item(0)])
        await batcher.start()
        first = asyncio.create_task(batcher.submit([item(1)]))
        second = asyncio.create_task(batcher.submit([item(2)]))
        await asyncio.sleep(0.1)  # item 1 is in the scoring thread, item 2 waits
        threading.Timer(0.2, gate.set).start()
        await batcher.stop()
        return await asyncio.gather(first, second, return_exceptions=True)

    results = asyncio.run(scenario())
    assert all(isinstance(r, ShuttingDown) for r in results)


def test_stop_during_the_wait_window_fails_the_batch_being_formed():
    async def scenario():
        batcher = DynamicBatcher(Doubler(), BatchingConfig(wait_ms=5000))
        await batcher.start()
        request = asyncio.create_task(batcher.submit([item(1), item(2)]))
        await asyncio.sleep(0.1)  # both items are off the queue, waiting for company
        assert batcher.pending == 2
        await batcher.stop()
        return await asyncio.wait_for(asyncio.gather(request, return_exceptions=True), 5)

    (result,) = asyncio.run(scenario())
    assert isinstance(result, ShuttingDown)
