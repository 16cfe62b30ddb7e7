"""Length-grouped and token-budget batches: coverage, budgets, epochs, and exact resume in a real run."""

from __future__ import annotations

import random

import pytest
import torch
from safetensors.torch import load_file

from rewardkit.data.batching import PairBatchSampler, batch_tokens, padded_cost, pair_batch_sampler
from rewardkit.data.encoding import EncodedPair
from rewardkit.data.packing import packed_length
from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.objective import ObjectiveConfig
from rewardkit.testing.tiny import arithmetic_rows, write_jsonl
from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
from rewardkit.training.run import run_training
from rewardkit.training.trainer import RewardTrainer

_rng = random.Random(0)
LENGTHS = [_rng.randint(20, 400) for _ in range(101)]


def covered_once(batches, n):
    return sorted(i for b in batches for i in b) == list(range(n))


def test_fixed_size_batches_reshuffle_each_epoch_reproducibly():
    sampler = PairBatchSampler(LENGTHS, batch_size=8, group_by_length=False, seed=3)
    epoch0, epoch1 = sampler.batches(0), sampler.batches(1)
    assert len(sampler) == len(epoch0) == len(epoch1) == 13
    assert covered_once(epoch0, len(LENGTHS)) and covered_once(epoch1, len(LENGTHS))
    assert epoch0 != epoch1
    assert PairBatchSampler(LENGTHS, batch_size=8, group_by_length=False, seed=3).batches(1) == epoch1
    sampler.set_epoch(1)
    assert list(sampler) == epoch1


def test_length_grouping_reduces_padding():
    grouped = PairBatchSampler(LENGTHS, batch_size=8, group_by_length=True, seed=0, mega_batch=64)
    plain = PairBatchSampler(LENGTHS, batch_size=8, group_by_length=False, seed=0)
    for epoch in (0, 1):
        assert covered_once(grouped.batches(epoch), len(LENGTHS)) and len(grouped.batches(epoch)) == len(grouped)

    def padded_total(sampler):
        return sum(batch_tokens([LENGTHS[i] for i in b], padded=True) for b in sampler.batches(0))

    assert padded_total(grouped) < 0.8 * padded_total(plain)


@pytest.mark.parametrize("padded", [False, True])
def test_token_budget_batches_fit_the_budget_and_keep_their_count(padded):
    budget = 1200
    sampler = PairBatchSampler(LENGTHS, token_budget=budget, padded=padded, seed=1)
    for epoch in range(3):
        batches = sampler.batches(epoch)
        assert len(batches) == len(sampler)
        assert covered_once(batches, len(LENGTHS))
        assert all(batch_tokens([LENGTHS[i] for i in b], padded) <= budget for b in batches)
    assert sampler.batches(0) != sampler.batches(1)  # same batches, new order
    assert sorted(map(tuple, sampler.batches(0))) == sorted(map(tuple, sampler.batches(1)))
    sizes = {len(b) for b in sampler.batches(0)}
    assert len(sizes) > 1  # short pairs share a batch with more others


def test_a_pair_over_budget_gets_a_batch_of_its_own():
    sampler = PairBatchSampler([50, 5000, 60], token_budget=200, shuffle=False)
    assert sorted(map(sorted, sampler.batches(0))) == [[0, 2], [1]]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="exactly one"):
        PairBatchSampler(LENGTHS, batch_size=4, token_budget=100)
    with pytest.raises(ValueError, match="token_budget"):
        PairBatchSampler(LENGTHS, token_budget=0)
    with pytest.raises(ValueError, match="token_budget"):
        DataConfig(token_budget=-5)


def test_sampler_uses_the_collators_lengths():
    pairs = [EncodedPair([1, 2, 3], [4, 9], [5, 6, 9], index=0), EncodedPair([1], [2, 9], [2, 9, 9], index=1)]
    assert pair_batch_sampler(pairs, packing=True, batch_size=2) is None  # Trainer's own sampler
    packed = pair_batch_sampler(pairs, packing=True, batch_size=2, token_budget=100)
    assert packed.lengths == [packed_length(p) for p in pairs] == [8, 5]
    padded = pair_batch_sampler(pairs, packing=False, batch_size=2, group_by_length=True)
    assert padded.lengths == [padded_cost(p) for p in pairs] == [12, 8] and padded.padded


# ---- in a training run ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    # varied lengths, so budgets give batches of different sizes
    rows = arithmetic_rows(
        40, seed=1, rejected=lambda a, b, i, rng: f"Maybe a{' very' * rng.randint(0, 12)} big {a * b}"
    )
    return write_jsonl(tmp_path_factory.mktemp("data") / "toy.jsonl", rows)


def budget_config(model_dir, data, out, **train):
    t = dict(
        output_dir=str(out),
        num_epochs=1,
        max_steps=15,
        save_steps=5,
        batch_size=4,
        learning_rate=3e-3,
        logging_steps=3,
        report_to=[],
        eval_before=False,
        export=False,
        save_total_limit=None,
    )
    t.update(train)
    return RunConfig(
        model=ModelConfig(name=str(model_dir), tuning="full"),
        data=DataConfig(train=[str(data)], heldout_fraction=0.0, max_length=64, token_budget=400),
        objective=ObjectiveConfig(objective="bt"),
        training=TrainConfig(**t),
    )


def test_token_budget_run_resumes_exactly_in_a_later_epoch(tiny_model_dir, toy_data, tmp_path, monkeypatch):
    seen: list[list[int]] = []
    original = RewardTrainer.training_step

    def recording_step(self, model, inputs, *args, **kwargs):
        seen.append(sorted(inputs["pair_index"].tolist()))
        return original(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(RewardTrainer, "training_step", recording_step)
    run_training(budget_config(tiny_model_dir, toy_data, tmp_path / "full"))
    full_batches = list(seen)
    assert len({len(b) for b in full_batches}) > 1  # the budget, not batch_size, sets the pairs per step
    per_epoch = len({tuple(b) for b in full_batches})
    assert per_epoch == 8  # so checkpoint-10 lies in the second epoch, which has its own batch order
    assert full_batches[:7] != full_batches[8:15]

    def dying_step(self, model, inputs, *args, **kwargs):
        if self.state.global_step == 12:
            raise KeyboardInterrupt("simulated kill")
        return recording_step(self, model, inputs, *args, **kwargs)

    seen.clear()
    killed = tmp_path / "killed"
    monkeypatch.setattr(RewardTrainer, "training_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run_training(budget_config(tiny_model_dir, toy_data, killed))
    monkeypatch.setattr(RewardTrainer, "training_step", recording_step)
    seen.clear()
    run_training(budget_config(tiny_model_dir, toy_data, killed, resume=True))
    # resumed after checkpoint-10, in the second epoch, with exactly the batches not yet seen
    assert seen == full_batches[10:]
    a = load_file(str(tmp_path / "full" / "checkpoint-15" / "model.safetensors"))
    b = load_file(str(killed / "checkpoint-15" / "model.safetensors"))
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
