"""Reward YAML -> RewardFunction: schema errors, paths, stats file, gold and callable components."""

from __future__ import annotations

import sys
import textwrap

import pytest
import yaml

from rewardkit.config import ConfigError
from rewardkit.data.record import DataError
from rewardkit.data.suite import gold_score, suite_prompts
from rewardkit.rewards.config import load_reward, load_reward_config
from rewardkit.rewards.gold import GoldReward

P = [[{"role": "user", "content": "q"}]]


def write(tmp_path, data, name="reward.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_schema_errors_name_the_key(tmp_path):
    bad_kind = write(
        tmp_path, {"combine": "aspects", "aspects": [{"kind": "metric", "metric": "length"}, {"kind": "regex"}]}
    )
    with pytest.raises(ConfigError, match=r"aspects\[1\].*kind must be one of"):
        load_reward_config(bad_kind)
    typo = write(tmp_path, {"combine": "aspects", "aspects": [{"kind": "metric", "metric": "length", "wieght": 2}]})
    with pytest.raises(ConfigError, match=r"aspects\[0\].*wieght"):
        load_reward_config(typo)
    no_holistic = write(tmp_path, {"combine": "hierarchical", "aspects": [{"kind": "metric", "metric": "length"}]})
    with pytest.raises(ConfigError, match="needs a holistic"):
        load_reward_config(no_holistic)
    with pytest.raises(ConfigError, match="unknown key"):
        load_reward_config(write(tmp_path, {"combine": "aspects", "treshold": 1, "aspects": [{"kind": "gold"}]}))
    with pytest.raises(FileNotFoundError):
        load_reward_config(tmp_path / "missing.yaml")


def test_paths_and_defaults(tmp_path):
    (tmp_path / "rm").mkdir()
    path = write(
        tmp_path,
        {
            "name": "r",
            "holistic": {"kind": "model", "path": "rm", "normalize": True},
            "aspects": [{"kind": "metric", "metric": "repetition", "options": {"n": 2}}],
        },
    )
    cfg = load_reward_config(path)
    assert cfg.holistic.path == str(tmp_path / "rm")  # relative to the YAML file
    assert cfg.stats_file == str(tmp_path / "reward.stats.json")
    assert cfg.combine == "hierarchical" and cfg.threshold == 0.6 and cfg.holistic_weight == 5.0
    fn = load_reward(path, combine="weighted")
    assert fn.settings.mode == "weighted" and fn.component_names() == ["holistic", "repetition"]
    assert fn.missing_stats() == ["holistic"]


def test_gold_component_scores_suite_prompts(tmp_path):
    prompts = suite_prompts(1, seed=3, families=["arithmetic"])
    meta = prompts[0].meta
    fn = load_reward(write(tmp_path, {"combine": "aspects", "aspects": [{"kind": "gold"}]}))
    right, wrong = f"The answer is {meta['answer']}.", "The answer is 123456789."
    scores = fn([prompts[0].prompt] * 2, [right, wrong], [meta, meta])
    assert scores == [gold_score(meta, right), gold_score(meta, wrong)] and scores[0] > scores[1]
    with pytest.raises(DataError, match="record 1.*meta"):
        GoldReward().score(P * 2, ["a", "b"], [meta, {}])


def test_callable_component_from_dotted_path(tmp_path, monkeypatch):
    (tmp_path / "toy_rewards_mod.py").write_text(
        textwrap.dedent("""
        def exclaim(prompts, responses, bonus=0.0, metas=None):
            return [r.count("!") + bonus + (metas[i].get("extra", 0) if metas else 0)
                    for i, r in enumerate(responses)]

        def broken(prompts, responses):
            return [1.0]
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("toy_rewards_mod", None)
    path = write(
        tmp_path,
        {
            "combine": "aspects",
            "aspects": [
                {"kind": "callable", "target": "toy_rewards_mod:exclaim", "options": {"bonus": 0.5}, "weight": 2.0}
            ],
        },
    )
    fn = load_reward(path)
    assert fn.component_names() == ["exclaim"]
    assert fn(P * 2, ["hi!!", "hi"], [{"extra": 1}, {}]) == [2 * 3.5, 2 * 0.5]
    broken = write(
        tmp_path, {"combine": "aspects", "aspects": [{"kind": "callable", "target": "toy_rewards_mod.broken"}]}
    )
    with pytest.raises(ValueError, match="returned 1 values for 2 responses"):
        load_reward(broken)(P * 2, ["a", "b"])
    missing = write(
        tmp_path, {"combine": "aspects", "aspects": [{"kind": "callable", "target": "toy_rewards_mod:nope"}]}
    )
    with pytest.raises(ConfigError, match="no attribute 'nope'"):
        load_reward(missing)
