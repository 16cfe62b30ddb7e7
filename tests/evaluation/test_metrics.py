"""Calibration, length bias and section scores against hand-computed values; their wiring into eval metrics."""

import math

import numpy as np
import pytest
import torch

from rewardkit.data.record import PreferencePair
from rewardkit.evaluation.bias import length_bias, response_lengths
from rewardkit.evaluation.calibration import bin_index, calibration, preference_probability
from rewardkit.evaluation.evaluate import metrics_from_scores
from rewardkit.evaluation.scoring import PairScores
from rewardkit.evaluation.suites import allocate, section_score


def test_ece_toy_example_by_hand():
    # p = sigmoid(m): 0.75 (right), 0.25 -> confidence 0.75 (wrong), 0.5 (tie: wrong), 0.95 (right)
    margins = [math.log(3), -math.log(3), 0.0, math.log(19)]
    cal = calibration(margins, n_bins=5)  # bins of width 0.1 over [0.5, 1]
    # bin [0.5, 0.6): the tie, |0 - 0.5| x 1/4; bin [0.7, 0.8): acc 0.5, conf 0.75, x 2/4;
    # bin [0.9, 1]: |1 - 0.95| x 1/4
    assert cal.ece == pytest.approx(0.5 / 4 + 0.25 * 2 / 4 + 0.05 / 4)
    assert cal.max_gap == pytest.approx(0.5)
    assert cal.accuracy == pytest.approx(0.5) and cal.mean_confidence == pytest.approx((0.75 * 2 + 0.5 + 0.95) / 4)
    assert cal.log_loss == pytest.approx(np.mean([math.log(4 / 3), math.log(4), math.log(2), math.log(20 / 19)]))
    assert cal.brier == pytest.approx(np.mean([0.25**2, 0.75**2, 0.5**2, 0.05**2]))
    assert [b.pairs for b in cal.bins] == [1, 0, 2, 0, 1]
    assert cal.bins[1].accuracy is None and cal.bins[2].accuracy == pytest.approx(0.5)
    assert cal.bins[4].lower == pytest.approx(0.9) and cal.bins[4].upper == pytest.approx(1.0)


def test_calibrated_margins_have_zero_ece():
    # three of four pairs right at confidence 0.75: accuracy equals confidence
    assert calibration([math.log(3)] * 3 + [-math.log(3)]).ece == pytest.approx(0.0, abs=1e-12)
    # always right, always 0.95 confident: off by 0.05 everywhere
    assert calibration([math.log(19)] * 5).ece == pytest.approx(0.05)


def test_probability_is_stable_and_bins_are_closed_at_one():
    p = preference_probability([-1000.0, 0.0, 1000.0])
    assert p.tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert bin_index(np.array([0.5, 0.7499, 1.0]), 10).tolist() == [0, 4, 9]


@pytest.mark.parametrize("bad", [[], [float("nan")], [[1.0, 2.0]]])
def test_calibration_rejects_bad_margins(bad):
    with pytest.raises(ValueError):
        calibration(bad)


def test_length_bias_by_hand():
    # pairs 0, 1: chosen longer (margin +, -); pair 2: chosen shorter (margin +); pair 3: equal lengths
    out = length_bias([2.0, 0.0, 3.0, 1.0], [1.0, 1.0, 2.0, 1.0], [10, 8, 2, 5], [6, 4, 3, 5])
    assert out["chosen_longer_pairs"] == 2 and out["chosen_shorter_pairs"] == 1 and out["equal_length_pairs"] == 1
    assert out["accuracy_chosen_longer"] == pytest.approx(0.5)
    assert out["accuracy_chosen_shorter"] == pytest.approx(1.0)
    assert out["length_accuracy_gap"] == pytest.approx(-0.5)
    assert out["data_chosen_longer_rate"] == pytest.approx(2 / 3)
    assert out["prefers_longer_rate"] == pytest.approx(1 / 3)  # only pair 0 ranks the longer response higher


def test_reward_length_correlation():
    lengths_c, lengths_r = [10, 20, 30], [5, 25, 12]
    assert length_bias(lengths_c, lengths_r, lengths_c, lengths_r)["reward_length_spearman"] == pytest.approx(1.0)
    neg = length_bias([-x for x in lengths_c], [-x for x in lengths_r], lengths_c, lengths_r)
    assert neg["reward_length_spearman"] == pytest.approx(-1.0) and neg["reward_length_pearson"] == pytest.approx(-1.0)
    empty = length_bias([1.0], [0.0], [3], [3])
    assert empty["accuracy_chosen_longer"] is None and empty["length_accuracy_gap"] is None


def test_section_score_weights_subsets_by_size():
    # RewardBench: sum(acc_s * n_s) / sum(n_s)
    assert section_score({"a": 0.5, "b": 1.0}, {"a": 3, "b": 1}) == pytest.approx(0.625)
    assert section_score(
        {"neighbor": 0.25, "gptinst": 0.5, "gptout": 0.75, "manual": 1.0},
        {"neighbor": 134, "gptinst": 92, "gptout": 47, "manual": 46},
    ) == pytest.approx((0.25 * 134 + 0.5 * 92 + 0.75 * 47 + 1.0 * 46) / 319)
    with pytest.raises(ValueError, match="no size"):
        section_score({"a": 0.5, "c": 1.0}, {"a": 3})


def test_allocation_is_proportional_largest_remainder():
    assert allocate({"neighbor": 134, "gptinst": 92, "gptout": 47, "manual": 46}, 32) == {
        "neighbor": 13,
        "gptinst": 9,
        "gptout": 5,
        "manual": 5,
    }
    assert allocate({"a": 5, "b": 5}, 100) == {"a": 5, "b": 5}


def _pair(chosen: str, rejected: str, subset: str) -> PreferencePair:
    return PreferencePair(prompt=[{"role": "user", "content": "q"}], chosen=chosen, rejected=rejected, subset=subset)


def test_metrics_include_calibration_and_length_bias_per_set_and_subset():
    pairs = [_pair("long answer", "no", "x"), _pair("a", "longer one", "x"), _pair("yes!", "no", "y")]
    scores = PairScores(
        index=torch.tensor([2, 0, 1]), chosen=torch.tensor([1.0, 2.0, 0.0]), rejected=torch.tensor([0.0, 0.0, 1.0])
    )
    m = metrics_from_scores(scores, pairs)
    # margins in pair order: pair 0 = +2, pair 1 = -1, pair 2 = +1
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["ece"] == pytest.approx(calibration([2.0, -1.0, 1.0]).ece)
    assert m["length_bias"]["accuracy_chosen_longer"] == pytest.approx(1.0)  # pairs 0 and 2
    assert m["length_bias"]["accuracy_chosen_shorter"] == pytest.approx(0.0)  # pair 1
    x = m["subsets"]["x"]
    assert x["ece"] == pytest.approx(calibration([2.0, -1.0]).ece)
    assert x["margin_mean"] == pytest.approx(0.5) and x["margin_std"] == pytest.approx(1.5)
    assert x["accuracy_chosen_longer"] == 1.0 and x["accuracy_chosen_shorter"] == 0.0
    assert len(m["calibration"]["bins"]) == 10
    lc, lr = response_lengths(pairs)
    assert lc.tolist() == [11, 1, 4] and lr.tolist() == [2, 10, 2]


def test_implicit_scores_get_their_own_calibration():
    pairs = [_pair("aa", "b", None), _pair("c", "dd", None)]
    scores = PairScores(
        index=torch.tensor([0, 1]),
        implicit_chosen=torch.tensor([0.3, -0.2]),
        implicit_rejected=torch.tensor([0.1, 0.0]),
    )
    m = metrics_from_scores(scores, pairs)  # a DPO model: the implicit reward is primary
    assert m["ece"] == pytest.approx(calibration([0.2, -0.2]).ece) == m["implicit"]["ece"]
    assert m["length_bias"]["prefers_longer_rate"] == pytest.approx(1.0)
