"""Training, export and scoring never break silently: divergence stops the run (naming the step) and leaves
finite checkpoints only; non-finite data, weights and rewards are refused with named errors; export is atomic."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from rewardkit.cli.main import main
from rewardkit.finite import NonFiniteError
from rewardkit.models.export import export_model
from rewardkit.models.loading import build_reward_model, load_tokenizer
from rewardkit.models.reward_model import ModelConfig
from rewardkit.testing.tiny import arithmetic_rows, write_jsonl

TRAIN_FLAGS = [
    "--max-length",
    "48",
    "--batch-size",
    "8",
    "--num-epochs",
    "1",
    "--logging-steps",
    "1",
    "--report-to",
    "none",
    "--no-eval-before",
]


def train(model_dir, data, out, *flags):
    return main(
        ["train", "--model", str(model_dir), "--train", str(data), "--output-dir", str(out), *TRAIN_FLAGS, *flags]
    )


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("toy") / "toy.jsonl", arithmetic_rows(64))


def finite_weights(checkpoint) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in load_file(str(checkpoint / "model.safetensors")).values())


@pytest.mark.parametrize("save_steps", [1, 500])
def test_a_diverging_run_stops_naming_the_step_and_leaves_a_finite_checkpoint(
    tiny_model_dir, toy, tmp_path, capsys, save_steps
):
    out = tmp_path / "run"
    status = train(
        tiny_model_dir,
        toy,
        out,
        "--learning-rate",
        "1e6",
        "--heldout-fraction",
        "0",
        "--save-steps",
        str(save_steps),
        "--save-total-limit",
        "1",
    )
    err = capsys.readouterr().err
    assert status == 2
    assert "rewardkit train: error: training diverged at step 3 of 8: the gradient norm is nan" in err, err
    checkpoints = sorted(out.glob("checkpoint-*"))
    assert [c.name for c in checkpoints] == ["checkpoint-2"]  # rotation kept the last finite one; none after
    assert f"saved in {checkpoints[0]}" in err and finite_weights(checkpoints[0])
    assert not (out / "export").exists()  # no NaN export


def test_reported_loss_is_never_masked():
    from rewardkit.training.config import RunConfig
    from rewardkit.training.run import training_arguments

    assert training_arguments(RunConfig(), False, "accuracy").logging_nan_inf_filter is False


def test_a_checkpoint_with_non_finite_weights_is_never_saved(tiny_model_dir, toy, tmp_path, monkeypatch):
    from rewardkit.training.trainer import DivergenceError, RewardTrainer

    original = RewardTrainer._save_checkpoint

    def poisoning_save(self, model, trial):  # weights turn NaN between the optimiser step and the save
        if self.state.global_step == 3:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return original(self, model, trial)

    monkeypatch.setattr(RewardTrainer, "_save_checkpoint", poisoning_save)
    from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
    from rewardkit.training.run import run_training

    cfg = RunConfig(
        model=ModelConfig(name=str(tiny_model_dir), tuning="full"),
        data=DataConfig(train=[str(toy)], heldout_fraction=0, max_length=48),
        training=TrainConfig(
            output_dir=str(tmp_path / "run"),
            max_steps=4,
            save_steps=1,
            save_total_limit=1,
            batch_size=8,
            report_to=[],
            eval_before=False,
        ),
    )
    with pytest.raises(DivergenceError, match="training diverged by step 3: weights hold NaN") as raised:
        run_training(cfg)
    assert raised.value.step == 3
    assert [c.name for c in (tmp_path / "run").glob("checkpoint-*")] == ["checkpoint-2"]


@pytest.mark.parametrize(
    "field, value", [("margin", "NaN"), ("margin", "Infinity"), ("chosen_score", "-Infinity"), ("strength", "true")]
)
def test_non_finite_numbers_in_data_are_refused_at_load(tiny_model_dir, tmp_path, capsys, field, value):
    lines = [json.dumps(r) for r in arithmetic_rows(8)]
    lines[5] = lines[5][:-1] + f', "{field}": {value}}}'
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(lines) + "\n")
    assert train(tiny_model_dir, data, tmp_path / "run", "--use-margin") == 2
    err = capsys.readouterr().err
    assert f"rewardkit train: error: {data}, record 5, field '{field}': expected a" in err, err


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_training_file_is_a_named_error(tiny_model_dir, tmp_path, capsys, content):
    data = tmp_path / "empty.jsonl"
    data.write_text(content)
    assert train(tiny_model_dir, data, tmp_path / "run") == 2
    assert f"rewardkit train: error: {data}: no records: the file is empty" in capsys.readouterr().err


def test_an_empty_eval_file_is_a_named_error(tiny_rm_dir, tmp_path, capsys):
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    assert main(["eval", "--model", str(tiny_rm_dir), "--data", str(data)]) == 2
    assert f"rewardkit eval: error: {data}: no records" in capsys.readouterr().err


def test_export_refuses_non_finite_weights_and_keeps_the_previous_export(tiny_model_dir, tmp_path):
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    tokenizer = load_tokenizer(str(tiny_model_dir))
    out = tmp_path / "export"
    export_model(model, tokenizer, out, metadata={"objective": "bt"})
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with torch.no_grad():
        model.score.weight.fill_(float("inf"))
    with pytest.raises(NonFiniteError, match=r"export to .* refused: 1 weight tensor\(s\) hold NaN or inf.*score"):
        export_model(model, tokenizer, out, metadata={"objective": "bt"})
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_a_killed_export_leaves_the_previous_export_complete(tiny_model_dir, tmp_path, monkeypatch):
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    tokenizer = load_tokenizer(str(tiny_model_dir))
    out = export_model(model, tokenizer, tmp_path / "export", metadata={"objective": "bt", "run": 1})
    first = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing the tokenizer")

    with torch.no_grad():
        model.score.weight.add_(1.0)  # the second export's weights differ
    monkeypatch.setattr(type(tokenizer), "save_pretrained", killed)
    with pytest.raises(KeyboardInterrupt):  # after the weights were written, before the tokenizer
        export_model(model, tokenizer, out, metadata={"objective": "bt", "run": 2})
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == first  # the previous export, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging left behind
    monkeypatch.undo()
    export_model(model, tokenizer, out, metadata={"objective": "bt", "run": 3})
    assert json.loads((out / "rewardkit.json").read_text())["run"] == 3


def test_score_refuses_to_emit_non_finite_rewards(tiny_rm_dir, tmp_path, capsys):
    broken = tmp_path / "nan-rm"
    shutil.copytree(tiny_rm_dir, broken)
    weights = load_file(str(broken / "model.safetensors"))
    weights["score.weight"][0, 0] = math.nan
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    source = tmp_path / "in.jsonl"
    source.write_text('{"prompt": "a", "response": "b"}\n\n{"prompt": "c", "response": "d"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["score", "--model", str(broken), "--input", str(source), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"rewardkit score: error: {source}, record 0: the model's reward is nan (not finite" in err, err
    assert not out.exists()


def test_fp16_overflow_steps_are_the_scalers_to_skip_up_to_a_limit():
    from types import SimpleNamespace

    from rewardkit.training.trainer import MAX_SCALER_SKIPS, RewardTrainer

    stops = []
    trainer = SimpleNamespace(
        _step_loss=None,
        _scaler_skips=0,
        is_deepspeed_enabled=False,
        accelerator=SimpleNamespace(num_processes=1, scaler=object()),
        args=SimpleNamespace(device="cpu", fp16=True),
        _diverged=lambda model, loss, norm, bad_loss: stops.append((loss, norm, bad_loss)),
    )

    def step(loss: float, grad_norm: float) -> None:
        trainer._step_loss = torch.tensor(loss)
        RewardTrainer._check_step(trainer, None, grad_norm)

    for _ in range(MAX_SCALER_SKIPS):
        step(0.5, math.inf)  # the scaler skips these and lowers its scale
    step(0.5, 1.0)  # a finite step resets the count
    for _ in range(MAX_SCALER_SKIPS):
        step(0.5, math.inf)
    assert stops == []
    step(0.5, math.inf)
    assert stops == [(0.5, math.inf, False)]
    step(math.nan, 1.0)  # a non-finite loss stops at once, scaler or not
    assert stops[-1][2] is True and math.isnan(stops[-1][0])
