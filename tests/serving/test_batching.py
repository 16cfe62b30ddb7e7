"""DynamicBatcher: grouping of concurrent items under the batch / token budget, failures, overload, stop."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest

from rewardkit.serving.batching import DynamicBatcher, ItemFailed, Overloaded, ShuttingDown
from rewardkit.serving.config import BatchingConfig
from rewardkit.serving.scorer import NonFiniteRewards, PreparedItem


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


def item(x: int, tokens: int = 1, prompt: str | None = None, prompt_tokens: int = 0) -> PreparedItem:
    return PreparedItem(x, tokens, prompt_key=prompt, prompt_tokens=prompt_tokens)


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
    # 10 + 10 + 30 > 40 closes [1, 2]; [3, 4] is 40 tokens; an item over the budget is scored alone
    assert score.batches == [[1, 2], [3, 4], [5]]
    assert batcher.stats["packed_tokens"] == 20 + 40 + 100


def test_the_budget_counts_a_shared_prompt_once():
    score = Doubler()
    batcher = DynamicBatcher(score, BatchingConfig(max_batch=16, max_tokens=40, wait_ms=50))
    # 20 tokens each, 15 of them the prompt: the first costs 20, the others 5 while their prompt is in the batch
    group = [item(i, 20, prompt="p", prompt_tokens=15) for i in range(6)]
    other = [item(10, 20, prompt="q", prompt_tokens=15)]
    results = asyncio.run(submit_all(batcher, [group, other]))
    assert results == [[2.0 * i for i in range(6)], [20.0]]
    assert score.batches == [[0, 1, 2, 3, 4], [5, 10]]  # 20 + 4 x 5 = 40; then 20 + 20 (another prompt)
    assert batcher.stats["packed_tokens"] == 40 + 40


def test_a_failed_batch_fails_its_requests_only():
    score = Doubler(fail_on=99)
    batcher = DynamicBatcher(score, BatchingConfig(max_batch=1, wait_ms=0))
    results = asyncio.run(submit_all(batcher, [[item(1)], [item(99)], [item(3)]]))
    assert results[0] == [2.0] and results[2] == [6.0]
    assert isinstance(results[1], RuntimeError)


def test_an_item_whose_nan_spreads_through_its_batch_fails_alone():
    """Packed rows share attention, so one item's NaN hidden states make the rewards of the items beside it NaN
    too (tests/serving/test_grouped_serving.py shows it on a model): they are scored again, and only the item
    whose reward is NaN alone fails, across requests grouped by prompt."""
    batches: list[list[int]] = []

    def poisoned(batch: list[PreparedItem]) -> list[float]:
        payloads = [p.payload for p in batch]
        batches.append(payloads)
        rewards = [math.nan if 99 in payloads else 2.0 * p for p in payloads]
        if any(math.isnan(r) for r in rewards):
            raise NonFiniteRewards("not finite", rewards)
        return rewards

    batcher = DynamicBatcher(poisoned, BatchingConfig(max_batch=8, wait_ms=100))
    requests = [
        [item(1, prompt="p")],
        [item(2, prompt="p"), item(99, prompt="p")],
        [item(3, prompt="p")],
        [item(4, prompt="q")],
        [item(5, prompt="p")],
    ]
    results = asyncio.run(submit_all(batcher, requests))
    assert results[0] == [2.0] and results[2] == [6.0] and results[3] == [8.0] and results[4] == [10.0]
    failed = results[1]
    assert isinstance(failed, ItemFailed) and failed.index == 1 and failed.error.status == 422
    assert batches[0] == [1, 2, 99, 3, 4, 5]  # one batch first; then halves of the NaN items, down to 99 alone
    # [1, 2, 99] | [3, 4, 5]; [1] | [2, 99]; [2] | [99]: 6 more calls, not one per item of the batch
    assert batches[1:] == [[1, 2, 99], [1], [2, 99], [2], [99], [3, 4, 5]]
    assert batcher.stats["failed_items"] == 1 and batcher.stats["isolation_calls"] == len(batches) - 1


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
