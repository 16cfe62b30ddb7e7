"""Win rates with ties excluded and counted half, and their bootstrap SEs over prompts (hand-computed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardkit.evaluation.winrate import format_win, win_stats


def test_counts_and_rates():
    prefs = np.array([[1, 0, 1], [-1, 0, 0], [1, 1, -1]])  # 3 prompts x 3 seeds: W 4, T 3, L 2
    out = win_stats(prefs, replicates=0)
    assert (out["wins"], out["ties"], out["losses"], out["n"]) == (4, 3, 2, 9)
    assert out["win_rate"] == pytest.approx((4 + 1.5) / 9) and out["decided_win_rate"] == pytest.approx(4 / 6)
    assert math.isnan(out["win_rate_se"])
    assert math.isnan(win_stats([0, 0], replicates=0)["decided_win_rate"])  # every comparison tied


def test_bootstrap_se_resamples_prompts_with_all_their_seeds():
    # prompt 0 always wins, prompt 1 always loses: a resample's rate is the share of prompt-0 draws; with 2 prompts
    # that share is 0, 1/2 or 1 (probabilities 1/4, 1/2, 1/4): SD = sqrt(1/8)
    prefs = np.array([[1, 1, 1], [-1, -1, -1]])
    out = win_stats(prefs, replicates=20000, seed=3)
    assert out["win_rate_se"] == pytest.approx(math.sqrt(1 / 8), rel=0.03)
    assert out["decided_win_rate_se"] == pytest.approx(math.sqrt(1 / 8), rel=0.03)
    assert format_win(out).startswith("0.500 ± 0.35") and format_win(out).endswith("(3/0/3)")


def test_bad_input():
    with pytest.raises(ValueError, match=r"\+1, 0 or -1"):
        win_stats([2, 0])
    with pytest.raises(ValueError, match="non-empty"):
        win_stats(np.zeros((0, 2)))
