"""The LLM-judge client against a local fake OpenAI-compatible endpoint: both orders, ties, retries."""

from __future__ import annotations

import numpy as np
import pytest

from rewardkit.generation.judge import JudgeConfig, LLMJudge, parse_verdict

from .fake_judge import fake_endpoint, prefers_good

PROMPT = [{"role": "user", "content": "Which is better?"}]


def test_consistent_judge_both_orders(monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", "secret")
    with fake_endpoint(prefers_good) as (url, seen):
        judge = LLMJudge(JudgeConfig(base_url=url, model="fake", api_key_env="TEST_JUDGE_KEY"))
        assert judge.compare(PROMPT, "a good answer", "a bad answer") == 1
        assert judge.compare(PROMPT, "a bad answer", "a good answer") == -1
        judge.close()
    assert len(seen) == 4 and all(s["path"] == "/v1/chat/completions" for s in seen)
    assert seen[0]["auth"] == "Bearer secret" and seen[0]["body"]["model"] == "fake"
    first_order, second_order = seen[0]["body"]["messages"][-1]["content"], seen[1]["body"]["messages"][-1]["content"]
    assert first_order.index("good") < first_order.index("bad") and second_order.index("bad") < second_order.index(
        "good"
    )


def test_position_bias_and_garbage_are_ties():
    with fake_endpoint(lambda first, second: "A") as (url, seen):  # always the first shown: disagreement
        judge = LLMJudge(JudgeConfig(base_url=url))
        assert judge.compare(PROMPT, "a good answer", "a bad answer") == 0
        assert judge.compare(PROMPT, "same", "same") == 0  # identical responses: no request
        assert len(seen) == 2
    with fake_endpoint(lambda first, second: "I cannot decide.") as (url, _):
        assert LLMJudge(JudgeConfig(base_url=url)).compare(PROMPT, "x", "y") == 0


def test_compare_many_and_retries():
    with fake_endpoint(prefers_good, fail_first=1) as (url, seen):
        judge = LLMJudge(JudgeConfig(base_url=url, retries=2))
        prefs = judge.compare_many([PROMPT] * 3, ["good", "bad", "x"], ["bad", "good", "x"])
        assert prefs.tolist() == [1, -1, 0] and isinstance(prefs, np.ndarray)
        assert len(seen) == 5  # one 503 retried, then 2 orders x 2 comparisons
    with fake_endpoint(prefers_good, fail_first=5) as (url, _), pytest.raises(Exception, match="503"):
        LLMJudge(JudgeConfig(base_url=url, retries=1)).compare(PROMPT, "good", "bad")


def test_verdict_parsing_and_config():
    assert [parse_verdict(t) for t in ["A", " b.", "[[B]]", "Response A is better", "Verdict: B", "neither"]] == [
        "A",
        "B",
        "B",
        "A",
        "B",
        None,
    ]
    with pytest.raises(ValueError, match="http"):
        JudgeConfig(base_url="ftp://x")
    with pytest.raises(ValueError, match="base_url"):
        LLMJudge(JudgeConfig())
