"""The three commands exist, and run end to end on tiny models (select-aspects, bon, rl)."""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml

from rewardkit.cli.main import build_parser, main


def export_tiny_rm(base, out):
    from rewardkit.models.export import export_model
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.reward_model import ModelConfig

    torch.manual_seed(3)
    model = build_reward_model(ModelConfig(name=str(base), tuning="full"), keep_lm_head=True)
    with torch.no_grad():
        model.score.weight.normal_(std=0.5)
    return export_model(model, load_tokenizer(str(base)), out,
                        metadata={"objective": "bt", "max_length": 96, "base_model": str(base)})


@pytest.fixture(scope="module")
def reward_yaml(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("alarm-cli")
    rm = export_tiny_rm(tiny_model_dir, root / "rm")
    path = root / "reward.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tiny-alarm", "combine": "hierarchical", "threshold": 0.0, "holistic_weight": 2.0,
        "sigmoid_shaping": True, "holistic": {"kind": "model", "path": "rm", "normalize": True},
        "aspects": [{"kind": "metric", "metric": "repetition"},
                    {"kind": "metric", "metric": "length", "weight": -0.5, "normalize": True}]}))
    return path


@pytest.mark.parametrize("command", ["bon", "select-aspects", "rl"])
def test_help_exists(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "--reward" in capsys.readouterr().out


def test_select_aspects_end_to_end(tiny_model_dir, reward_yaml, tmp_path, capsys):
    out = tmp_path / "sel"
    code = main(["select-aspects", "--reward", str(reward_yaml), "--policy", str(tiny_model_dir),
                 "--n-per-family", "1", "--max-new-tokens", "10", "--cache-dir", str(tmp_path / "cache"),
                 "--output-dir", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| rank | aspect | inconsistency |" in printed and "select-aspects best=" in printed
    data = json.loads((out / "aspects.json").read_text())
    assert {a["name"] for a in data["aspects"]} == {"repetition", "length", "gold (reference)"}
    assert (out / "aspects.png").read_bytes()[:4] == b"\x89PNG"


def test_bon_end_to_end(tiny_model_dir, reward_yaml, tmp_path, capsys):
    stats = tmp_path / "stats.json"
    code = main(["bon", "--reward", str(reward_yaml), "--policy", str(tiny_model_dir), "--n", "3",
                 "--n-per-family", "1", "--families", "arithmetic", "factual", "--max-new-tokens", "8",
                 "--cache-dir", str(tmp_path / "cache"), "--stats-file", str(stats), "--output-dir", str(tmp_path)])
    assert code == 0
    assert "bon prompts=2 n=3" in capsys.readouterr().out
    assert set(json.loads(stats.read_text())) == {"holistic", "length"}  # calibrated on the samples
    results = json.loads((tmp_path / "bon.json").read_text())
    assert "hierarchical vs holistic" in results["comparisons"] and "gold" in results["judges"]


def test_rl_end_to_end(tiny_model_dir, reward_yaml, tmp_path, capsys):
    code = main(["rl", "--reward", str(reward_yaml), "--policy", str(tiny_model_dir), "--families", "arithmetic",
                 "--n-per-family", "2", "--eval-families", "arithmetic", "--eval-n-per-family", "2", "--steps", "1",
                 "--num-generations", "2", "--max-completion-length", "6", "--eval-max-new-tokens", "6",
                 "--stats-file", str(tmp_path / "stats.json"), "--output-dir", str(tmp_path)])
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"rl before=-?\d+\.\d+ after=-?\d+\.\d+ reward=tiny-alarm/hierarchical score=gold seconds=\d+",
                        line), line
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    results = json.loads((tmp_path / "rl.json").read_text())
    assert results["algorithm"] == "grpo"
    assert len(results["before_scores"]) == len(results["after_scores"]) == results["eval_prompts"] == 2
    assert abs(results["after"] - sum(results["after_scores"]) / 2) < 1e-12
