"""PCRM compositions through config alone (CLI flags → RunConfig → run_training) on a tiny random model:
each run must feed the objective the right per-pair bounds and compute the loss the config names."""

import argparse

import pytest
import torch

from rewardkit.config import add_config_flags, load_config
from rewardkit.data.priors import length_ratio
from rewardkit.objectives.losses import (
    bradley_terry_loss,
    center_rewards_penalty,
    policy_preference_loss,
    prior_constraint_loss,
)
from rewardkit.objectives.objective import Objective, ObjectiveConfig
from rewardkit.testing.tiny import arithmetic_rows, write_jsonl
from rewardkit.training.config import RunConfig
from rewardkit.training.run import run_training


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    rows = arithmetic_rows(
        20,
        rejected=lambda a, b, i, rng: f"Maybe {a * b + 7}, who knows" if i % 2 else f"{a + b + 1}.",
        extra=lambda i: {"margin": 0.25 * (i % 3)},
    )
    return write_jsonl(tmp_path_factory.mktemp("pcrm-data") / "toy.jsonl", rows)


def config_from_flags(model_dir, data, out, flags):
    parser = argparse.ArgumentParser()
    add_config_flags(parser, RunConfig)
    argv = [
        "--model",
        str(model_dir),
        "--tuning",
        "full",
        "--train",
        str(data),
        "--heldout-fraction",
        "0.2",
        "--max-length",
        "48",
        "--output-dir",
        str(out),
        "--max-steps",
        "1",
        "--batch-size",
        "4",
        "--logging-steps",
        "1",
        "--report-to",
        "none",
        "--no-eval-before",
        "--no-export",
        *flags,
    ]
    cfg = load_config(RunConfig, parser.parse_args(argv))
    cfg.training.report_to = []
    return cfg


@pytest.fixture
def captured(monkeypatch):
    """Every (batch, objective output, reward/logp inputs) the trainer hands to the objective."""
    calls = []
    original = Objective.__call__

    def spy(self, rewards, logps, ref_logps, batch):
        out = original(self, rewards, logps, ref_logps, batch)
        calls.append(
            {
                "batch": {k: v for k, v in batch.items() if torch.is_tensor(v)},
                "out": out,
                "rewards": rewards,
                "logps": logps,
                "ref": ref_logps,
                "config": self.config,
            }
        )
        return out

    monkeypatch.setattr(Objective, "__call__", spy)
    return calls


def expected_terms(call):
    """The reward and policy terms recomputed by hand from what the objective received."""
    cfg, batch = call["config"], call["batch"]
    out = {}
    if call["rewards"] is not None:
        chosen, rejected = call["rewards"].detach().chunk(2)
        m = batch["margin"] if cfg.use_margin else None
        if "reward" in cfg.prior_targets():
            shift = m if m is not None else 0.0
            out["loss_reward"] = prior_constraint_loss(
                chosen - rejected - shift, batch["delta_reward"] - shift, cfg.prior_lambda
            )
        else:
            out["loss_reward"] = bradley_terry_loss(chosen, rejected, m)
        if cfg.center_rewards_coefficient:
            out["loss_center"] = center_rewards_penalty(chosen, rejected)
    if call["logps"] is not None:
        pc, pr = call["logps"].detach().chunk(2)
        rc, rr = call["ref"].detach().chunk(2)
        h = (pc - rc) - (pr - rr)
        if "policy" in cfg.prior_targets():
            out["loss_policy"] = prior_constraint_loss(cfg.beta * h, batch["delta_policy"], cfg.prior_lambda)
        else:
            out["loss_policy"] = policy_preference_loss(h, cfg.beta)
    return out


COMPOSITIONS = {
    "bt": ([], {"loss_reward"}, set()),
    "pcrm-rm": (["--prior", "length"], {"loss_reward"}, {"delta_reward"}),
    "dpo": (["--objective", "dpo"], {"loss_policy"}, set()),
    "pcrm-dpo": (["--objective", "dpo", "--prior", "length"], {"loss_policy"}, {"delta_policy"}),
    "haf": (["--objective", "haf"], {"loss_reward", "loss_policy"}, set()),
    "haf-pcrm-reward": (
        ["--objective", "haf", "--prior", "length", "--prior-on", "reward"],
        {"loss_reward", "loss_policy"},
        {"delta_reward"},
    ),
    "haf-pcrm-both": (
        ["--objective", "haf", "--prior", "length", "--prior-on", "both", "--b1", "8"],
        {"loss_reward", "loss_policy"},
        {"delta_reward", "delta_policy"},
    ),
    "bt-margin-center": (
        ["--use-margin", "--center-rewards-coefficient", "0.01"],
        {"loss_reward", "loss_center"},
        set(),
    ),
    "pcrm-margin-center": (
        ["--prior", "length", "--use-margin", "--center-rewards-coefficient", "0.01"],
        {"loss_reward", "loss_center"},
        {"delta_reward"},
    ),
    "pcrm-fixed": (["--prior", "fixed", "--fixed-delta", "2.5"], {"loss_reward"}, {"delta_reward"}),
    "pcrm-random": (["--prior", "random", "--random-delta-range", "1", "3"], {"loss_reward"}, {"delta_reward"}),
}


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_composition_end_to_end(name, tiny_model_dir, toy_data, tmp_path, captured):
    flags, terms, bounds = COMPOSITIONS[name]
    cfg = config_from_flags(tiny_model_dir, toy_data, tmp_path / name, flags)
    results = run_training(cfg)

    assert len(captured) == 1  # max_steps
    for call in captured:
        present = {k for k in ("delta_reward", "delta_policy") if k in call["batch"]}
        assert present == bounds
        expected = expected_terms(call)
        assert set(expected) == terms
        for key, value in expected.items():
            torch.testing.assert_close(call["out"].per_pair[key], value, rtol=1e-5, atol=1e-6)
    logged = {k for entry in results["log_history"] for k in entry}
    assert terms <= logged
    after = results["after"]["heldout"]
    assert {"margin_mean", "margin_std", "margin_max", "margin_similarity_pearson"} <= set(after)

    batch = captured[0]["batch"]
    if cfg.objective.prior == "length":  # the bound of each pair follows its token-level length ratio
        for key, form in (("delta_reward", "reward"), ("delta_policy", "policy")):
            if key in batch:
                b1, b2, b3 = {"reward": (10.0, 0.001, -5.0), "policy": (20.0, 0.001, -15.0)}[form]
                b1 = cfg.objective.b1 if cfg.objective.b1 is not None else b1
                s = batch["prior_similarity"].double()
                torch.testing.assert_close(batch[key].double(), b1 / (s + b2) + b3, rtol=1e-5, atol=1e-5)
    if name == "pcrm-rm":
        assert_similarity_matches_the_token_ids(batch)
    if name == "pcrm-fixed":
        assert batch["delta_reward"].tolist() == [2.5] * 4
    if name == "pcrm-random":
        assert all(1.0 <= v <= 3.0 for v in batch["delta_reward"].tolist())


def assert_similarity_matches_the_token_ids(batch):
    """The collated `prior_similarity` equals the length ratio of the batch's own response tokens
    (read through the batch contract, whatever the layout: padded or packed rows)."""
    p = batch["pair_index"].numel()
    targets, seq = batch["logp_targets"], batch["logp_seq"]
    for i in range(p):
        chosen, rejected = targets[seq == i].tolist(), targets[seq == i + p].tolist()
        assert chosen[-1] == rejected[-1]  # both end with EOS
        assert batch["prior_similarity"][i].item() == pytest.approx(length_ratio(chosen, rejected), rel=1e-6)


def test_cosine_prior_end_to_end(tiny_model_dir, toy_data, tmp_path, captured):
    cfg = config_from_flags(
        tiny_model_dir, toy_data, tmp_path / "cos", ["--objective", "haf", "--prior", "cosine", "--prior-on", "both"]
    )
    run_training(cfg)
    batch = captured[0]["batch"]
    s = batch["prior_similarity"].double()
    assert ((s > 0.5) & (s <= 1.0)).all()  # the reward form 1 - arccos(c)/pi of a clamped cosine
    torch.testing.assert_close(batch["delta_reward"].double(), 20 / (s + 0.001) - 15, rtol=1e-5, atol=1e-5)
    cosine = torch.cos(torch.pi * (1 - s))  # invert the reward form: the DPO form is the raw cosine
    torch.testing.assert_close(batch["delta_policy"].double(), 30 / (cosine + 0.001) - 25, rtol=1e-5, atol=1e-4)


def test_prior_with_the_margin_column_shifts_only_the_lower_target():
    cfg = ObjectiveConfig(objective="bt", prior="length", use_margin=True)
    rewards = torch.tensor([2.0, 0.5, 1.0, 1.5], dtype=torch.float64)  # margins 1, -1
    batch = {
        "margin": torch.tensor([0.5, 0.0], dtype=torch.float64),
        "delta_reward": torch.tensor([3.0, 3.0], dtype=torch.float64),
    }
    out = Objective(cfg)(rewards, None, None, batch)
    sig = torch.sigmoid
    by_hand = [
        -torch.log(sig(torch.tensor(0.5))) - torch.log(sig(torch.tensor(2.0))),  # d - m = .5, delta* - d = 2
        -torch.log(sig(torch.tensor(-1.0))) - torch.log(sig(torch.tensor(4.0))),
    ]
    assert out.per_pair["loss_reward"].tolist() == pytest.approx([v.item() for v in by_hand], rel=1e-6)


def test_missing_bounds_are_a_clear_error():
    obj = Objective(ObjectiveConfig(objective="bt", prior="length"))
    with pytest.raises(ValueError, match="delta_reward.*attach_prior_bounds"):
        obj(torch.tensor([1.0, 0.0]), None, None, {})
