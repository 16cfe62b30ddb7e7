"""The three commands exist, and run end to end on tiny models (select-aspects, bon, rl)."""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml

from rewardkit.cli.main import build_parser, main
from rewardkit.generation.rl_control import adaptive_kl_update
from rewardkit.testing.commands import cli_args
from rewardkit.testing.tiny import tiny_rl_args


def export_tiny_rm(base, out):
    from rewardkit.models.export import export_model
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.reward_model import ModelConfig

    torch.manual_seed(3)
    model = build_reward_model(ModelConfig(name=str(base), tuning="full"), keep_lm_head=True)
    with torch.no_grad():
        model.score.weight.normal_(std=0.5)
    return export_model(
        model, load_tokenizer(str(base)), out, metadata={"objective": "bt", "max_length": 96, "base_model": str(base)}
    )


@pytest.fixture(scope="module")
def reward_yaml(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("alarm-cli")
    export_tiny_rm(tiny_model_dir, root / "rm")
    path = root / "reward.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "tiny-alarm",
                "combine": "hierarchical",
                "threshold": 0.0,
                "holistic_weight": 2.0,
                "sigmoid_shaping": True,
                "holistic": {"kind": "model", "path": "rm", "normalize": True},
                "aspects": [
                    {"kind": "metric", "metric": "repetition"},
                    {"kind": "metric", "metric": "length", "weight": -0.5, "normalize": True},
                ],
            }
        )
    )
    return path


@pytest.mark.parametrize("command", ["bon", "select-aspects", "rl"])
def test_help_exists(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "--reward" in capsys.readouterr().out


def select_args(reward_yaml, policy, tmp_path, out, **options):
    return cli_args(
        "select-aspects",
        reward=reward_yaml,
        policy=policy,
        n_per_family=1,
        max_new_tokens=10,
        cache_dir=tmp_path / "cache",
        output_dir=out,
        **options,
    )


def test_select_aspects_end_to_end(tiny_model_dir, reward_yaml, tmp_path, capsys):
    out = tmp_path / "sel"
    code = main(select_args(reward_yaml, tiny_model_dir, tmp_path, out))
    assert code == 0
    printed = capsys.readouterr().out
    assert "| rank | aspect | inconsistency |" in printed and "select-aspects best=" in printed
    data = json.loads((out / "aspects.json").read_text())
    assert {a["name"] for a in data["aspects"]} == {"repetition", "length", "gold (reference)"}
    assert (out / "aspects.png").read_bytes()[:4] == b"\x89PNG"


def test_select_aspects_on_shaped_terms(tiny_model_dir, reward_yaml, tmp_path, capsys):
    """--shaped: the length aspect (weight -0.5) prefers the shorter response once shaped, as in the reward."""
    out = tmp_path / "sel"
    args = select_args(reward_yaml, tiny_model_dir, tmp_path, out, stats_file=tmp_path / "stats.json")
    assert main(args + ["--shaped"]) == 0
    shaped = {a["name"]: a for a in json.loads((out / "aspects.json").read_text())["aspects"]}
    assert main(args) == 0
    raw = {a["name"]: a for a in json.loads((out / "aspects.json").read_text())["aspects"]}
    assert "length" in json.loads((tmp_path / "stats.json").read_text())  # calibrated on greedy + sampled
    # a negative weight flips the preference: greedy wins by length exactly where it loses by the shaped term
    assert shaped["length"]["greedy_win_rate"] == pytest.approx(1 - raw["length"]["greedy_win_rate"])
    assert shaped["gold (reference)"] == raw["gold (reference)"]


def test_bon_end_to_end(tiny_model_dir, reward_yaml, tmp_path, capsys):
    stats = tmp_path / "stats.json"
    code = main(
        [
            "bon",
            "--reward",
            str(reward_yaml),
            "--policy",
            str(tiny_model_dir),
            "--n",
            "3",
            "--n-per-family",
            "1",
            "--families",
            "arithmetic",
            "factual",
            "--max-new-tokens",
            "8",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--stats-file",
            str(stats),
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert "bon prompts=2 n=3" in capsys.readouterr().out
    assert set(json.loads(stats.read_text())) == {"holistic", "length"}  # calibrated on the samples
    results = json.loads((tmp_path / "bon.json").read_text())
    assert "hierarchical vs holistic" in results["comparisons"] and "gold" in results["judges"]


def test_rl_end_to_end(tiny_model_dir, reward_yaml, tmp_path, capsys):
    code = main(tiny_rl_args(reward_yaml, tiny_model_dir, tmp_path, stats_file=tmp_path / "stats.json"))
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"rl before=-?\d+\.\d+ after=-?\d+\.\d+ reward=tiny-alarm/hierarchical score=gold seconds=\d+", line
    ), line
    assert (tmp_path / "adapter" / "adapter_config.json").exists()
    results = json.loads((tmp_path / "rl.json").read_text())
    assert results["algorithm"] == "grpo"
    assert len(results["before_scores"]) == len(results["after_scores"]) == results["eval_prompts"] == 2
    assert abs(results["after"] - sum(results["after_scores"]) / 2) < 1e-12
    # the papers' settings by default: fixed KL 0.1 to the initial policy, unscaled rewards (a reward model)
    assert results["settings"] == {
        "kl_coef": 0.1,
        "kl": "fixed",
        "kl_target": None,
        "scale_rewards": "none",
        "reward_clip": None,
    }
    series = results["series"]
    assert series["step"] == [1, 2] and len(series["reward"]) == len(series["kl"]) == 2
    assert all(isinstance(v, float) and v >= 0 for v in series["kl"]) and series["kl_coef"] == [0.1, 0.1]
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved["training"]["kl_coef"] == 0.1 and saved["reward"] == str(reward_yaml)


def test_rl_rloo_with_adaptive_kl_and_clipping(tiny_model_dir, reward_yaml, tmp_path, capsys):
    code = main(
        tiny_rl_args(
            reward_yaml,
            tiny_model_dir,
            tmp_path,
            eval_families="factual",
            eval_n_per_family=1,
            algorithm="rloo",
            eval_max_new_tokens=4,
            kl_target="1e-6",
            kl_horizon=1,
            reward_clip=0.25,
            scale_rewards="batch",
            track_every=0,
            stats_file=tmp_path / "stats.json",
        )
    )
    assert code == 0
    results = json.loads((tmp_path / "rl.json").read_text())
    assert results["algorithm"] == "rloo" and results["settings"]["scale_rewards"] == "batch"
    series = results["series"]
    assert all(abs(r) <= 0.25 for r in series["reward"]) and len(series["clipped_share"]) == 2
    # step 2 used the coefficient the controller derived from step 1's sequence KL (0 there: the policy was the
    # initial one, so it is below the target and the coefficient falls by 0.2 per completion of the horizon)
    assert series["kl_coef"][0] == 0.1 and series["kl_sequence"][0] == pytest.approx(0.0, abs=1e-6)
    assert series["kl_coef"][1] == pytest.approx(adaptive_kl_update(0.1, series["kl_sequence"][0], 1e-6, 4, 1))
