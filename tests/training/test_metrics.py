"""Training metrics: kept on the device between log events, logged as exact means over the interval's pairs."""

from __future__ import annotations

import pytest
import torch

from rewardkit.objectives.objective import Objective
from rewardkit.testing.tiny import arithmetic_rows, write_jsonl
from rewardkit.training.metrics import MetricAccumulator
from rewardkit.training.run import run_training

from .test_invariance import config


def test_accumulator_means_and_one_reduction():
    acc = MetricAccumulator()
    acc.add(
        {"accuracy": torch.tensor([1.0, 0.0]), "margin": torch.tensor([0.5, -1.0])}, torch.tensor([1.0, 2.0, 3.0, 4.0])
    )
    acc.add({"accuracy": torch.tensor([1.0]), "margin": torch.tensor([2.0])}, torch.tensor([0.0, -2.0]))
    calls = []

    def twice(totals):  # as if a second process had seen exactly the same values
        calls.append(totals.clone())
        return totals * 2

    out = acc.pop(twice)
    assert len(calls) == 1
    assert out["accuracy"] == pytest.approx(2 / 3) and out["margin"] == pytest.approx(0.5)
    rewards = torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0, -2.0], dtype=torch.float64)
    assert out["reward_mean"] == pytest.approx(rewards.mean().item())
    assert out["reward_std"] == pytest.approx(rewards.std(unbiased=False).item())
    assert acc.pop() == {}


@pytest.mark.parametrize("objective", ["bt", "haf"])
def test_logged_metrics_are_the_means_of_each_logging_interval(tiny_plain_model_dir, tmp_path, monkeypatch, objective):
    """Recompute every logged metric from the objective's per-pair outputs of each micro-step."""
    data = write_jsonl(tmp_path / "toy.jsonl", arithmetic_rows(40, seed=2))
    steps: list[dict[str, torch.Tensor]] = []
    call = Objective.__call__

    def recording(self, rewards, logps, ref_logps, batch):
        out = call(self, rewards, logps, ref_logps, batch)
        if torch.is_grad_enabled():  # training micro-steps (evaluation runs under no_grad)
            values = dict(out.per_pair)
            if out.rewards is not None:
                values["_rewards"] = out.rewards
            steps.append({k: v.detach().double().clone() for k, v in values.items()})
        return out

    monkeypatch.setattr(Objective, "__call__", recording)
    results = run_training(
        config(
            tiny_plain_model_dir,
            data,
            tmp_path / "run",
            objective=objective,
            max_steps=5,
            batch_size=4,
            gradient_accumulation_steps=2,
            logging_steps=2,
            export=False,
        )
    )
    logged = [e for e in results["log_history"] if "accuracy" in e or "implicit_accuracy" in e]
    assert [e["step"] for e in logged] == [1, 2, 4, 5]  # the first step, every 2nd, and the end of training
    assert len(steps) == 10  # 2 micro-steps per optimizer step
    intervals = [steps[0:2], steps[2:4], steps[4:8], steps[8:10]]
    for entry, micro in zip(logged, intervals):
        for name in micro[0]:
            pooled = torch.cat([m[name] for m in micro])
            if name == "_rewards":
                assert entry["reward_mean"] == pytest.approx(pooled.mean().item(), abs=1e-6)
                assert entry["reward_std"] == pytest.approx(pooled.std(unbiased=False).item(), abs=1e-6)
            else:
                assert entry[name] == pytest.approx(pooled.mean().item(), abs=1e-6), name
