"""Best-of-N selection and pairwise comparison with toy rewards; an end-to-end run on a tiny policy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardkit.generation import sampling
from rewardkit.generation.bon import BonConfig, compare_selections, run_bon, select_best
from rewardkit.generation.prompts import PromptConfig
from rewardkit.generation.sampling import SamplingConfig, load_policy
from rewardkit.rewards.combinators import Aspect, CombineSettings, RewardFunction
from rewardkit.rewards.metrics import build_metric

from .fake_judge import fake_endpoint, prefers_longer


def test_select_best_first_on_ties():
    rewards = np.array([[0.1, 0.9, 0.9], [2.0, -1.0, 0.0]])
    assert select_best(rewards).tolist() == [1, 0]
    with pytest.raises(ValueError):
        select_best(np.array([1.0, 2.0]))


def test_hierarchical_vs_holistic_selection_by_hand():
    holistic = np.array([[0.5, 0.7, 0.65]])  # z-normalised
    aspects = np.array([[3.0, 0.0, 1.0]])
    # threshold 0.6, w_h 1: hierarchical = [0.5, 0.7, 1.65]; holistic = [0.5, 0.7, 0.65]; weighted = [3.5, .7, 1.65]
    from rewardkit.rewards.combinators import combine

    pick = {
        m: select_best(combine(m, holistic.ravel(), aspects.ravel(), 0.6, 1.0).reshape(1, 3))[0]
        for m in ("hierarchical", "holistic", "weighted")
    }
    assert pick == {"hierarchical": 2, "holistic": 1, "weighted": 0}


def test_compare_selections():
    judge = np.array([[1.0, 2.0], [5.0, 5.0], [0.0, 3.0], [1.0, 0.0]])
    result = compare_selections(judge, np.array([1, 0, 0, 0]), np.array([0, 1, 1, 0]))
    assert (result["wins"], result["ties"], result["losses"]) == (1, 2, 1)
    assert result["win_rate"] == 0.5 and result["decided_win_rate"] == 0.5 and result["n"] == 4


def test_run_bon_end_to_end_and_cache(tiny_model_dir, tmp_path, monkeypatch):
    reward = RewardFunction(
        "toy",
        CombineSettings("hierarchical", threshold=20.0, holistic_weight=1.0),
        holistic=build_metric("length", "chars", {"unit": "chars"}),
        aspects=[Aspect(build_metric("repetition"), weight=10.0)],
    )
    policy = load_policy(str(tiny_model_dir))
    config = BonConfig(
        reward="unused.yaml",
        n=3,
        output_dir=str(tmp_path / "out"),
        methods=["hierarchical", "holistic", "weighted", "first"],
        prompts=PromptConfig(n_per_family=1, families=["arithmetic", "language"]),
        sampling=SamplingConfig(max_new_tokens=12, cache_dir=str(tmp_path / "cache")),
    )
    results = run_bon(config, reward=reward, policy=policy)
    assert results["prompts"] == 2 and results["n"] == 3
    assert set(results["judges"]) == {"chars", "repetition", "gold"}  # gold: suite prompts have gold meta
    records = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    for rec in records:
        assert rec["selected"]["holistic"] == int(np.argmax(rec["scores"]["chars"]))
        assert rec["selected"]["hierarchical"] == int(np.argmax(rec["combined"]["hierarchical"]))
        assert rec["selected"]["first"] == 0
    vs_first = results["comparisons"]["holistic vs first"]["chars"]
    assert vs_first["losses"] == 0  # the longest response never loses on length
    assert (tmp_path / "out" / "bon.md").read_text().startswith("best-of-3 on 2 prompts")

    monkeypatch.setattr(sampling, "_generate", lambda *a, **k: pytest.fail("re-generated despite the cache"))
    again = run_bon(config, reward=reward, policy=policy)
    assert again["means"] == results["means"]


def test_config_validation():
    with pytest.raises(ValueError, match="reward"):
        BonConfig()
    with pytest.raises(ValueError, match="n >= 2"):
        BonConfig(reward="r.yaml", n=1)
    with pytest.raises(ValueError, match="methods"):
        BonConfig(reward="r.yaml", methods=["best"])


def test_run_bon_with_an_llm_judge(tiny_model_dir, tmp_path):
    from rewardkit.generation.judge import JudgeConfig

    reward = RewardFunction(
        "toy", CombineSettings("holistic"), holistic=build_metric("length", "chars", {"unit": "chars"})
    )
    config = BonConfig(
        reward="unused.yaml",
        n=3,
        output_dir=str(tmp_path),
        methods=["holistic", "first"],
        prompts=PromptConfig(n_per_family=1, families=["factual"]),
        sampling=SamplingConfig(max_new_tokens=12, cache_dir="off"),
    )
    with fake_endpoint(prefers_longer) as (url, seen):
        config.judge = JudgeConfig(base_url=url)
        results = run_bon(config, reward=reward, policy=load_policy(str(tiny_model_dir)))
    judged = results["comparisons"]["holistic vs first"]["llm_judge"]
    same = results["comparisons"]["holistic vs first"]["same_selection"]
    assert judged["n"] == 1 and judged["losses"] == 0  # the longest sample never loses to a longer-preferring judge
    assert len(seen) == (0 if same else 2)  # both presentation orders, nothing when the picks are equal


def test_each_component_scores_the_samples_once(tiny_model_dir, tmp_path):
    class Counting:
        name = "holistic"
        calls = 0

        def score(self, prompts, responses, metas=None):
            Counting.calls += 1
            return [float(len(r)) for r in responses]

    reward = RewardFunction(
        "toy",
        CombineSettings("hierarchical"),
        holistic=Counting(),
        holistic_normalize=True,
        aspects=[Aspect(build_metric("repetition"))],
        stats_file=tmp_path / "stats.json",
    )
    config = BonConfig(
        reward="unused.yaml",
        n=2,
        output_dir=str(tmp_path),
        methods=["hierarchical", "holistic"],
        prompts=PromptConfig(n_per_family=2, families=["factual"]),
        sampling=SamplingConfig(max_new_tokens=12, cache_dir="off"),
    )
    run_bon(config, reward=reward, policy=load_policy(str(tiny_model_dir)))
    assert Counting.calls == 1  # calibration and selection reuse the same raw scores
    assert "holistic" in json.loads((tmp_path / "stats.json").read_text())


def test_several_seeds_pool_prompt_seed_pairs(tiny_model_dir, tmp_path):
    reward = RewardFunction(
        "toy",
        CombineSettings("hierarchical", threshold=-1e9, holistic_weight=1.0, degenerate_penalty=-10.0),
        holistic=build_metric("length", "chars", {"unit": "chars"}),
        aspects=[Aspect(build_metric("sentence_repetition"), weight=50.0)],
    )
    config = BonConfig(
        reward="unused.yaml",
        n=3,
        output_dir=str(tmp_path),
        seeds=[0, 1],
        bootstrap=50,
        methods=["hierarchical", "holistic", "first"],
        prompts=PromptConfig(n_per_family=2, families=["factual"]),
        sampling=SamplingConfig(max_new_tokens=10, cache_dir="off"),
    )
    results = run_bon(config, reward=reward, policy=load_policy(str(tiny_model_dir)))
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert results["seeds"] == [0, 1] and [r["seed"] for r in records] == [0, 0, 1, 1]
    assert records[0]["responses"] != records[2]["responses"]  # each seed draws its own samples
    gold = results["comparisons"]["hierarchical vs holistic"]["gold"]
    assert gold["n"] == 4 and gold["prompts"] == 2 and gold["repeats"] == 2
    differ = sum(r["selected"]["hierarchical"] != r["selected"]["holistic"] for r in records)
    assert results["changed_picks"]["hierarchical"] == differ / 4
    assert results["comparisons"]["hierarchical vs holistic"]["same_selection"] == 4 - differ
    assert set(results["degenerate"]) == {"samples", "hierarchical", "holistic", "first"}
    assert "W / (W + L), ties excluded" in (tmp_path / "bon.md").read_text()
