"""Two CPU processes (accelerate launch, DDP over gloo) against one process with the same global batch.

1 process × batch 8 and 2 processes × batch 4 see the same pairs per step (same seed), so the logged global
loss/metrics, the final weights, the evaluation (every held-out pair once, an uneven last batch) and
results.json must agree; checkpoints, the export and the reports are written once.
"""

import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rewardkit.data.batching import PairBatchSampler, split_evenly
from rewardkit.training.run import run_training

from .launch import PROCESSES, launch_two_processes, run_config, step_logs, write_pairs

GLOBAL_BATCH, STEPS = 8, 3
HELDOUT_PAIRS = 11  # odd: the last evaluation batch is uneven across the two processes
LOGGED = (
    "loss",
    "grad_norm",
    "accuracy",
    "margin",
    "reward_mean",
    "implicit_accuracy",
    "implicit_margin",
    "loss_policy",
)
EVAL_METRICS = ("accuracy", "margin_mean", "margin_std", "reward_mean", "implicit_accuracy")


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    """43 arithmetic pairs of varied length: 32 train (4 global batches of 8), 11 held out."""
    return write_pairs(tmp_path_factory.mktemp("dist-data") / "pairs.jsonl", 43)


@pytest.mark.parametrize("objective", ["bt", "haf"])
def test_two_processes_match_one_with_the_same_global_batch(
    tiny_model_dir, pairs_file, tmp_path, monkeypatch, objective
):
    monkeypatch.setenv("REWARDKIT_HOME", str(tmp_path / "home-one"))  # HaF: its own reference log-prob cache
    one = run_training(run_config(tiny_model_dir, pairs_file, tmp_path / "one", objective, GLOBAL_BATCH, steps=STEPS))
    two_dir = tmp_path / "two"
    two = launch_two_processes(
        run_config(tiny_model_dir, pairs_file, two_dir, objective, GLOBAL_BATCH // PROCESSES, steps=STEPS), tmp_path
    )

    # the same global loss / metrics at every step
    logs_one, logs_two = step_logs(one), step_logs(two)
    assert [e["step"] for e in logs_two] == list(range(1, STEPS + 1))
    for a, b in zip(logs_one, logs_two, strict=True):
        for key in LOGGED:
            assert (key in a) == (key in b), key
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), (key, a["step"])
    if objective == "haf":
        assert "implicit_accuracy" in logs_two[0]

    # evaluation: every held-out pair exactly once, same numbers before and after training
    for phase in ("before", "after"):
        m1, m2 = one[phase]["heldout"], two[phase]["heldout"]
        assert m1["pairs"] == m2["pairs"] == HELDOUT_PAIRS
        for key in EVAL_METRICS:
            if key in m1:
                assert m2[key] == pytest.approx(m1[key], rel=1e-4, abs=1e-5), (phase, key)

    # the same final weights
    w1 = load_file(str(tmp_path / "one" / "export" / "model.safetensors"))
    w2 = load_file(str(two_dir / "export" / "model.safetensors"))
    assert w1.keys() == w2.keys()
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], atol=1e-5, rtol=1e-4, msg=key)

    # written once: one checkpoint, one export, one set of reports; no per-rank leftovers
    assert sorted(p.name for p in two_dir.glob("checkpoint-*")) == [f"checkpoint-{STEPS}"]
    assert not list(two_dir.glob(".staging/*"))
    written = {p.name for p in two_dir.iterdir() if not p.name.startswith(".")}
    assert written == {"config.yaml", "results.json", "eval.md", "eval.json", "export", f"checkpoint-{STEPS}"}


@pytest.mark.parametrize("group_by_length", [True, False])
@pytest.mark.parametrize("n_pairs", [32, 37])
def test_sampler_global_batches_do_not_depend_on_the_number_of_processes(group_by_length, n_pairs):
    lengths = [random.Random(i).randint(5, 90) for i in range(n_pairs)]
    single = PairBatchSampler(lengths, batch_size=8, group_by_length=group_by_length, seed=3, mega_batch=16)
    split = PairBatchSampler(
        lengths, batch_size=4, group_by_length=group_by_length, seed=3, mega_batch=16, num_processes=2
    )
    for epoch in (0, 1):
        single.set_epoch(epoch)
        split.set_epoch(epoch)
        per_process = list(split)
        assert len(per_process) == len(split)
        # accelerate's BatchSamplerShard hands batches out round-robin: global step k = batches 2k, 2k+1
        merged = [per_process[i] + per_process[i + 1] for i in range(0, len(per_process) - 1, 2)]
        if len(per_process) % 2:
            merged.append(per_process[-1])
        assert merged == list(single)


def test_split_evenly():
    assert split_evenly([1, 2, 3, 4, 5], 2) == [[1, 2, 3], [4, 5]]
    assert split_evenly([1], 2) == [[1]]
    assert split_evenly([], 3) == []
