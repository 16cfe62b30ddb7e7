"""Segment metrics and baselines (evaluation/segments.py) against hand-computed values."""

from __future__ import annotations

import math

import pytest

from rewardkit.data.segments import SegmentExample, split_sentences
from rewardkit.evaluation.segments import ThresholdRule, auroc, baseline_metrics, classification_metrics, prompt_overlap


def test_auroc_hand_computed():
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: 0.35 beats one of two, 0.8 both -> 3/4
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auroc([1.0, 1.0], [1, 0]) == pytest.approx(0.5)  # a tie counts one half
    assert math.isnan(auroc([1.0, 2.0], [1, 1]))


def test_classification_metrics_hand_computed():
    m = classification_metrics([True, False, False, True, True], [1, 0, 1, 0, 1])
    # error class: tp 1 (item 1), fp 1 (item 2), fn 1 (item 3) -> P = R = F1 = 0.5; ok class: F1 = 4/6
    assert m["accuracy"] == pytest.approx(0.6)
    assert (m["error_precision"], m["error_recall"], m["error_f1"]) == pytest.approx((0.5, 0.5, 0.5))
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["error_rate"] == pytest.approx(0.4) and m["predicted_error_rate"] == pytest.approx(0.4)


def test_threshold_rule_picks_side_and_cut():
    assert ThresholdRule.fit([1, 2, 3, 4], [0, 0, 1, 1]) == ThresholdRule(2.5, 1.0)
    rule = ThresholdRule.fit([1, 2, 3, 4], [1, 1, 0, 0])
    assert rule.sign == -1.0 and rule.predict([1, 4]) == [True, False]


def example(question: str, response: str, labels: list[float]) -> SegmentExample:
    return SegmentExample(
        prompt=[{"role": "user", "content": question}],
        response=response,
        segments=split_sentences(response),
        labels=labels,
    )


def test_prompt_overlap_baseline_finds_off_topic_sentences():
    ex = example("When was Paris founded?", "Paris was founded long ago. Cats like milk.", [1.0, 0.0])
    assert prompt_overlap(ex) == [0.5, 0.0]  # paris, founded of {paris, founded, long, ago}; none of {cats, like, milk}
    train = [
        example(f"When was Town{i} founded?", f"Town{i} was founded early. Dogs bark loudly.", [1.0, 0.0])
        for i in range(4)
    ]
    test = [example("When was Rome founded?", "Rome was founded in antiquity. Birds sing.", [1.0, 0.0])]
    out = baseline_metrics(train, test)
    assert out["prompt_overlap"]["accuracy"] == 1.0 and out["prompt_overlap"]["auroc"] == 1.0
    assert out["majority"]["accuracy"] == 0.5 and out["majority"]["auroc"] == 0.5
