"""Combinator arithmetic against hand-computed cases: threshold edges, shaping, token placement."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from rewardkit.rewards.base import ZNorm, load_stats
from rewardkit.rewards.combinators import (
    Aspect,
    CombineSettings,
    RewardFunction,
    combine,
    combine_tokens,
    place_on_tokens,
    shape_placements,
    sigmoid,
)

P = [[{"role": "user", "content": "q"}]]


@dataclass
class Fixed:
    """A toy sequence-level component returning given scores."""

    name: str
    values: list[float]

    def score(self, prompts, responses, metas=None):
        return list(self.values[: len(responses)])


@dataclass
class Placed:
    """A toy token-level component returning given placements."""

    name: str
    rows: list[list[tuple[int, float]]]

    def placements(self, prompts, responses, metas=None):
        return [list(r) for r in self.rows[: len(responses)]]

    def score(self, prompts, responses, metas=None):
        return [sum(v for _, v in r) for r in self.placements(prompts, responses, metas)]


def test_hierarchical_threshold_edges():
    h = np.array([0.59, 0.6, 0.61, -2.0])
    a = np.array([1.0, 1.0, 1.0, 10.0])
    out = combine("hierarchical", h, a, threshold=0.6, holistic_weight=5.0)
    # below the threshold: only w_h * h; at or above: a + w_h * h
    assert out == pytest.approx([2.95, 4.0, 4.05, -10.0])


def test_baselines():
    h, a = np.array([1.0, -1.0]), np.array([0.5, 2.0])
    assert combine("holistic", h, a, 0.6, 3.0) == pytest.approx([3.0, -3.0])
    assert combine("aspects", h, a, 0.6, 3.0) == pytest.approx([0.5, 2.0])
    assert combine("weighted", h, a, 0.6, 3.0) == pytest.approx([3.5, -1.0])
    with pytest.raises(ValueError, match="unknown combine mode"):
        combine("sum", h, a, 0.6, 3.0)


def test_sigmoid_shaping():
    assert sigmoid(0.0) == 0.5
    assert sigmoid(-800.0) == pytest.approx(0.0) and sigmoid(800.0) == pytest.approx(1.0)  # no overflow
    assert shape_placements([(3, 0.0), (5, 2.0)], True) == [(3, 0.5), (5, pytest.approx(1 / (1 + math.exp(-2))))]
    assert shape_placements([(3, -1.0)], False) == [(3, -1.0)]
    # offset 0.5 (the paper's avg_clip) keeps signs: a penalty stays a penalty
    assert shape_placements([(3, -1.0), (4, 0.0)], True, 0.5) == [(3, pytest.approx(sigmoid(-1.0) - 0.5)), (4, 0.0)]


def test_shaping_event_penalties_warns_without_offset(caplog):
    tok = Placed("spelling", [[(1, -0.5)]])
    with caplog.at_level("WARNING", logger="rewardkit.rewards"):
        bad = RewardFunction("x", CombineSettings("aspects", sigmoid_shaping=True), aspects=[Aspect(tok)])
    assert "positive rewards" in caplog.text
    assert bad(P, ["abc"]) == [pytest.approx(sigmoid(-0.5))] and bad(P, ["abc"])[0] > 0
    good = RewardFunction(
        "x", CombineSettings("aspects", sigmoid_shaping=True, sigmoid_offset=0.5), aspects=[Aspect(tok)]
    )
    assert good(P, ["abc"])[0] < 0


def test_place_on_tokens():
    ends = [3, 7, 10]  # tokens cover chars [0,3) [3,7) [7,10)
    row = place_on_tokens([(3, 1.0), (4, 2.0), (10, 3.0), (99, 4.0), (0, 5.0)], ends)
    assert row.tolist() == [6.0, 2.0, 7.0]
    with pytest.raises(ValueError):
        place_on_tokens([(1, 1.0)], [])


def test_token_placement_of_holistic_and_aspects():
    aspect_tokens = [np.array([0.0, 1.0, 0.0]), np.array([2.0, 0.0, 0.0])]
    h = [0.5, 0.7]  # first below the threshold, second above
    rows = combine_tokens("hierarchical", h, aspect_tokens, threshold=0.6, holistic_weight=5.0)
    assert rows[0].tolist() == [0.0, 0.0, 2.5]  # aspects dropped, holistic on the last token
    assert rows[1].tolist() == [2.0, 0.0, 3.5]  # aspects kept on their tokens
    assert [r.sum() for r in rows] == pytest.approx(
        combine("hierarchical", np.array(h), np.array([1.0, 2.0]), 0.6, 5.0).tolist()
    )
    assert combine_tokens("aspects", h, aspect_tokens, 0.6, 5.0)[0].tolist() == [0.0, 1.0, 0.0]
    assert combine_tokens("holistic", h, aspect_tokens, 0.6, 5.0)[1].tolist() == [0.0, 0.0, 3.5]


def test_reward_function_normalisation_shaping_and_weights(tmp_path):
    holistic = Fixed("holistic", [3.0, 1.0])  # z-normalised with mean 1, std 2 -> [1.0, 0.0]
    seq = Fixed("seq", [0.0, 4.0])  # weight 2, not normalised, sigmoid shaped
    tok = Placed("tok", [[(1, 1.0), (4, -1.0)], []])  # token-level, weight 1
    fn = RewardFunction(
        "toy",
        CombineSettings("hierarchical", threshold=0.5, holistic_weight=3.0, sigmoid_shaping=True),
        holistic=holistic,
        holistic_normalize=True,
        holistic_source="h",
        aspects=[Aspect(seq, 2.0), Aspect(tok, 1.0)],
        stats={"holistic": ZNorm(1.0, 2.0, 2, "h")},
    )
    responses = ["abcdef", "xyz"]
    b = fn.breakdown(P * 2, responses)
    assert b.holistic.tolist() == [1.0, 0.0]
    s = sigmoid
    a0 = 2 * s(0.0) + s(1.0) + s(-1.0)  # = 1 + 1
    a1 = 2 * s(4.0)  # no token placements
    assert b.aspect_total == pytest.approx([a0, a1])
    # response 0: h = 1.0 >= 0.5 -> a + 3h; response 1: h = 0.0 < 0.5 -> 3h only
    assert fn(P * 2, responses) == pytest.approx([a0 + 3.0, 0.0])
    assert b.rewards("weighted") == pytest.approx([a0 + 3.0, a1])
    tokens = b.token_rewards([[2, 4, 6], [3]])
    assert tokens[0].tolist() == pytest.approx([s(1.0), s(-1.0), 2 * s(0.0) + 3.0])
    assert tokens[1].tolist() == pytest.approx([0.0])
    assert [t.sum() for t in tokens] == pytest.approx(b.rewards().tolist())


def test_missing_stats_and_calibration(tmp_path):
    stats_file = tmp_path / "r.stats.json"
    fn = RewardFunction(
        "toy",
        CombineSettings("holistic"),
        holistic=Fixed("holistic", [1.0, 3.0]),
        holistic_normalize=True,
        holistic_source="model:a",
        stats_file=stats_file,
    )
    assert fn.missing_stats() == ["holistic"]
    with pytest.raises(ValueError, match="no calibration stats"):
        fn(P * 2, ["a", "b"])
    measured = fn.calibrate(P * 2, ["a", "b"])
    assert measured["holistic"].mean == 2.0 and measured["holistic"].std == 1.0
    assert load_stats(stats_file)["holistic"] == ZNorm(2.0, 1.0, 2, "model:a")
    assert fn(P * 2, ["a", "b"]) == pytest.approx([-5.0, 5.0])  # w_h (default 5) * z
    fn.holistic_source = "model:b"  # another model: its stats are not reused
    assert fn.missing_stats() == ["holistic"]


def test_reward_function_validation():
    with pytest.raises(ValueError, match="needs a holistic"):
        RewardFunction("x", CombineSettings("weighted"), aspects=[Aspect(Fixed("a", [1.0]))])
    with pytest.raises(ValueError, match="at least one aspect"):
        RewardFunction("x", CombineSettings("hierarchical"), holistic=Fixed("h", [1.0]))
    with pytest.raises(ValueError, match="unique"):
        RewardFunction(
            "x", CombineSettings("weighted"), holistic=Fixed("a", [1.0]), aspects=[Aspect(Fixed("a", [1.0]))]
        )
    with pytest.raises(ValueError, match="combine must be"):
        CombineSettings("best")
