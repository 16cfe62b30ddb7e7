"""benchmarks/alarm_bon.py and benchmarks/alarm_rl.py: the presets meet the issue's bounds, the summary lines and
docs sections come out of synthetic results, and every run's config is valid."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np

from rewardkit.evaluation.winrate import win_stats
from rewardkit.rewards.config import load_reward

REPO = Path(__file__).resolve().parents[2]


def load(name: str):
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def comparison(prefs) -> dict:
    return {"gold": win_stats(np.asarray(prefs), replicates=50), "same_selection": int((np.asarray(prefs) == 0).sum())}


def test_bon_quick_preset_bounds_and_summary_line():
    b = load("alarm_bon")
    quick = b.PRESETS["quick"]
    assert quick.prompts_per_family * 7 >= 100 and len(quick.seeds) >= 3
    for yaml_file, overrides, _ in b.COMPOSITIONS.values():
        load_reward(REPO / yaml_file, **overrides)  # every composition loads
    prefs = [[1, 0, 0], [0, -1, 1], [0, 0, 0], [1, 1, 0]]
    comps = {"hierarchical vs holistic": comparison(prefs), "holistic vs weighted": comparison(prefs)}
    means = {m: {"gold": 0.5} for m in b.METHODS}
    composition = {
        "description": "d",
        "changed_picks": {"hierarchical": 0.25, "weighted": 0.5, "aspects": 0.9},
        "degenerate": {"samples": 0.01},
        "means": means,
        "comparisons": comps,
        "seconds": 1.0,
    }
    result = {
        "preset": "quick",
        "prompts": 105,
        "settings": {"seeds": [0, 1, 2], "n": 4, "max_new_tokens": 32, "prompts_per_family": 15},
        "compositions": dict.fromkeys(b.COMPOSITIONS, composition),
        "command": "c",
        "policy": "p",
        "hardware": {"label": "CPU"},
        "holistic_rm": {"method": "bt", "export": "e", "heldout_accuracy": 0.7, "heldout_pairs": 30},
        "timings": {"reward_model": 1.0},
        "wall_seconds": 60.0,
        "created": "now",
        "hh": None,
    }
    line = b.summary_line(result)
    assert re.fullmatch(
        r"alarm quick prompts=105 seeds=3 changed_picks=0\.250 hier_vs_holistic=0\.800\+-\d\.\d{3}", line
    ), line
    text = b.section(result)
    assert "| paper-qa | hierarchical vs holistic | 7 | 0.800 ±" in text
    assert "| paper-qa | weighted vs holistic | 7 | 0.200 ±" in text  # read the other way round (W/L swapped)
    assert "| paper-qa | holistic vs weighted |" not in text


def test_sections_replace_only_their_markers():
    common = load("alarm_common")
    doc = "# Results\n\n<!-- BEGIN overopt:quick -->\nx\n<!-- END overopt:quick -->\n"
    begin = common.begin_marker("alarm-rl", "s", "j")
    first = common.put_section(doc, "alarm-rl", "one", begin)
    second = common.put_section(first + "tail\n", "alarm-rl", "two", begin)
    assert "one" not in second and "two" in second and second.endswith("tail\n") and "x\n" in second
    assert second.count(common.HEADING) == 1


def test_rl_runs_are_valid_and_comparisons_pool_seeds():
    r = load("alarm_rl")
    for run in r.RUN_LIST:
        config = r.rl_config(run, 0, "rm-path")
        assert config.training.kl_coef == 0.1 and config.training.scale_rewards == "none"
        assert config.eval_prompts.n_per_family * 7 >= 100
        load_reward(REPO / run.reward, combine=run.combine)
    assert all(a in r.RUNS_BY_NAME and b in r.RUNS_BY_NAME for a, b, _ in r.COMPARISONS)
    a = {0: {"after_scores": [1.0, 0.0, 0.5]}, 1: {"after_scores": [1.0, 1.0, 0.0]}}
    b = {0: {"after_scores": [0.0, 0.0, 1.0]}, 2: {"after_scores": [0.0, 0.0, 0.0]}}
    assert r.pooled_prefs(a, b).tolist() == [[1], [0], [-1]]  # only seed 0 is in both
    assert r.verdict({"decided_win_rate": 0.8, "decided_win_rate_se": 0.1}) == "supported"
    assert r.verdict({"decided_win_rate": 0.45, "decided_win_rate_se": 0.1}).startswith("inconclusive")
