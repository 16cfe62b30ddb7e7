"""Inconsistency rate, coverage and win rate on a hand-made preference table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rewardkit.rewards.consistency import (
    aspect_consistency,
    bar_chart,
    inconsistency_rate,
    preferences,
    rank_aspects,
    win_rate,
    write_results,
)

# greedy vs sampled scores of 6 prompts
HOLISTIC_G = [1.0, 1.0, 0.0, 2.0, 0.5, 3.0]
HOLISTIC_S = [0.0, 2.0, 0.0, 1.0, 0.5, 1.0]  # prefs: +1 -1 0 +1 0 +1  (4 strict)
ASPECT_G = [5.0, 5.0, 1.0, 0.0, 9.0, 2.0]
ASPECT_S = [1.0, 1.0, 2.0, 3.0, 0.0, 2.0]  # prefs: +1 +1 -1 -1 +1 0


def test_preferences_with_tolerance():
    assert preferences(HOLISTIC_G, HOLISTIC_S).tolist() == [1, -1, 0, 1, 0, 1]
    assert preferences([1.0, 1.0], [0.95, 1.2], tolerance=0.1).tolist() == [0, -1]


def test_inconsistency_rate_by_hand():
    h, a = preferences(HOLISTIC_G, HOLISTIC_S), preferences(ASPECT_G, ASPECT_S)
    # holistic strict on prompts 0, 1, 3, 5; aspect strict too on 0 (agree), 1 (disagree), 3 (disagree); 5 tie
    assert inconsistency_rate(h, a) == pytest.approx(2 / 4)
    result = aspect_consistency("toy", h, a)
    assert (result.holistic_strict, result.both_strict, result.disagreements) == (4, 3, 2)
    assert result.coverage == pytest.approx(3 / 4)
    assert result.greedy_win_rate == pytest.approx((3 + 0.5) / 6)  # wins on 0, 1, 4; tie on 5
    assert math.isnan(inconsistency_rate(np.zeros(3), a[:3]))
    assert win_rate(np.array([1, -1, 0, 0])) == 0.5


def test_ranking_and_outputs(tmp_path):
    h = np.array([1, 1, -1, 1])
    good = aspect_consistency("good", h, np.array([1, 1, -1, 0]))  # 0 / 4, coverage 3/4
    silent = aspect_consistency("silent", h, np.array([0, 0, 0, 0]))  # 0 / 4, coverage 0
    bad = aspect_consistency("bad", h, np.array([-1, -1, 1, 1]))  # 3 / 4
    undefined = aspect_consistency("undefined", np.zeros(4), np.array([1, 1, 1, 1]))
    ranked = rank_aspects([bad, undefined, silent, good])
    assert [r.name for r in ranked] == ["good", "silent", "bad", "undefined"]
    png = bar_chart(ranked, tmp_path / "a.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(write_results(ranked, tmp_path / "a.json", holistic="rm").read_text())
    assert data["aspects"][-1]["inconsistency_rate"] is None and data["holistic"] == "rm"
