"""Degenerate responses and ALaRM's holistic penalty for them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rewardkit.config import ConfigError
from rewardkit.rewards.combinators import Aspect, CombineSettings, RewardFunction
from rewardkit.rewards.config import load_reward
from rewardkit.rewards.degenerate import DegenerateConfig, degenerate_mask, degenerate_reason

P = [[{"role": "user", "content": "q"}]]


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("!!! ... ???", "empty"),
        ("the cat the cat the cat the cat", "repetitive"),  # 3-grams: tct ctc tct* ctc* tct* ctc*: 4 of 6 repeat
        ("I am. I am. I am. I am.", "repetitive"),
        ("ok ok ok ok", None),  # 2 three-grams: too few to judge repetition
        ("Paris", None),
        ("42", None),
        ("The capital of France is Paris, a city on the Seine.", None),
        ("a b c d a b c e", None),  # 1 of 6 repeats
    ],
)
def test_reasons(text, reason):
    assert degenerate_reason(text) == reason


def test_repeat_share_threshold_is_inclusive_and_can_be_off():
    text = "a b c a b c"  # 4 three-grams, 1 repeats: 0.25
    assert degenerate_reason(text, DegenerateConfig(max_repeat_share=0.25)) == "repetitive"
    assert degenerate_reason(text, DegenerateConfig(max_repeat_share=0.26)) is None
    assert degenerate_reason("x x x x x x x", DegenerateConfig(max_repeat_share=None)) is None
    assert degenerate_reason("", DegenerateConfig(empty=False)) is None


def test_unfinished_only_when_enabled_and_long():
    cut = "The answer depends on several factors such as the"
    on = DegenerateConfig(unfinished_words=5)
    assert degenerate_reason(cut) is None and degenerate_reason(cut, on) == "unfinished"
    assert degenerate_reason("Paris", on) is None  # short answers are never unfinished
    for ending in (".", "!", "?", "…", '."', ".)", ". ", "\n```"):
        assert degenerate_reason(cut + ending, on) is None, ending
    with pytest.raises(ValueError, match="max_repeat_share"):
        DegenerateConfig(max_repeat_share=1.5)


@dataclass
class Fixed:
    name: str = "holistic"
    value: float = 2.0

    def score(self, prompts, responses, metas=None):
        return [self.value] * len(responses)


TEXTS = ["A fine answer.", "", "the cat the cat the cat the cat"]


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("holistic", [6.0, -30.0, -30.0]),
        ("hierarchical", [6.0 + 1.0, -30.0, -30.0]),
        ("weighted", [7.0, -29.0, -29.0]),  # weighted still adds the (bounded) aspect term
    ],
)
def test_penalty_replaces_the_holistic_reward(mode, expected):
    settings = CombineSettings(mode, threshold=0.5, holistic_weight=3.0, degenerate_penalty=-10.0)
    reward = RewardFunction("r", settings, holistic=Fixed(), aspects=[Aspect(Fixed("one", 1.0))])
    breakdown = reward.breakdown(P * 3, TEXTS)
    assert breakdown.degenerate.tolist() == [False, True, True]
    assert breakdown.rewards().tolist() == pytest.approx(expected)
    assert breakdown.raw["holistic"].tolist() == [2.0] * 3  # judges still see the raw score


def test_no_penalty_by_default():
    reward = RewardFunction("r", CombineSettings("holistic", holistic_weight=1.0), holistic=Fixed())
    breakdown = reward.breakdown(P * 3, TEXTS)
    assert breakdown.degenerate is None and breakdown.rewards().tolist() == [2.0] * 3
    assert degenerate_mask(TEXTS).tolist() == [False, True, True]


def test_yaml_keys(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "combine: holistic\nholistic: {kind: gold}\ndegenerate_penalty: -10\n"
        "degenerate: {max_repeat_share: 0.4, unfinished_words: 20}\n"
    )
    reward = load_reward(path)
    assert reward.settings.degenerate_penalty == -10.0
    assert reward.settings.degenerate == DegenerateConfig(max_repeat_share=0.4, unfinished_words=20)
    path.write_text("combine: holistic\nholistic: {kind: gold}\ndegenerate: {max_repeats: 0.4}\n")
    with pytest.raises(ConfigError, match=r"degenerate: unknown key\(s\) \['max_repeats'\]"):
        load_reward(path)
    path.write_text("combine: holistic\nholistic: {kind: gold}\ndegenerate: 3\n")
    with pytest.raises(ConfigError, match="degenerate: expected a mapping"):
        load_reward(path)
