"""Per-sentence (dense) aspects: a value on every sentence, so offset-0 sigmoid shaping gives bonuses."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rewardkit.rewards.base import is_segment_level
from rewardkit.rewards.combinators import Aspect, CombineSettings, RewardFunction, sigmoid
from rewardkit.rewards.metrics import build_metric, sentence_spans

P = [[{"role": "user", "content": "q"}]]


def test_sentence_spans():
    text = "Paris is big. It has 2.1 million people!\nTeh cat sat  \n\n  ... and then"
    assert [text[a:b] for a, b in sentence_spans(text)] == [  # "..." alone is no sentence
        "Paris is big.",
        "It has 2.1 million people!",
        "Teh cat sat",
        "and then",
    ]
    assert sentence_spans("") == sentence_spans(" ...\n!! ") == []
    assert sentence_spans('He said "hi." Then left') == [(0, 13), (14, 23)]


def test_sentence_values_hand_computed():
    spelling = build_metric("sentence_spelling")
    assert spelling.placements(P, ["The cat sat. Teh dgo ran fast. 42."]) == [[(12, 1.0), (30, 0.5), (34, 1.0)]]
    repetition = build_metric("sentence_repetition", options={"n": 3})
    # 3-grams: abc, bca, cab, abc*, bca*, cab*, abc*, bcd (* repeats); by the sentence of their last word
    assert repetition.placements(P, ["a b c. a b c. a b c d"]) == [[(6, 1.0), (13, pytest.approx(2 / 3)), (21, 0.25)]]
    assert repetition.score(P * 2, ["a b c. a b c. a b c d", ""]) == [pytest.approx(1 + 2 / 3 + 0.25), 0.0]
    easy, hard = "The cat sat.", "Notwithstanding considerable institutional heterogeneity, organisational."
    (values,) = build_metric("sentence_readability").placements(P, [f"{easy} {hard}"])
    assert values[0][1] > values[1][1] and all(0.0 <= v <= 1.0 for _, v in values)  # Flesch / 100


@pytest.mark.parametrize("metric", ["sentence_readability", "sentence_spelling", "sentence_repetition"])
def test_offset0_shaping_gives_one_bonus_per_sentence_without_the_penalty_warning(metric, caplog):
    component = build_metric(metric)
    assert is_segment_level(component)
    texts = ["One fine line. Two fine lines. Three.", "Short."]
    with caplog.at_level(logging.WARNING, logger="rewardkit.rewards"):
        reward = RewardFunction(
            "r", CombineSettings("aspects", sigmoid_shaping=True, sigmoid_offset=0.0), aspects=[Aspect(component)]
        )
    assert "penalties" not in caplog.text
    breakdown = reward.breakdown(P * 2, texts)
    raw = component.placements(P * 2, texts)
    for row, placements in zip(breakdown.aspect_placements, raw):
        assert len(row) == len(placements) and all(0.0 < v < 1.0 for _, v in row)
        assert [v for _, v in row] == pytest.approx([sigmoid(v) for _, v in placements])
    assert breakdown.aspect_total[0] > breakdown.aspect_total[1] > 0  # three sentences earn more than one


def test_normalize_is_per_sentence():
    component = build_metric("sentence_spelling")
    reward = RewardFunction(
        "r", CombineSettings("aspects", sigmoid_shaping=True), aspects=[Aspect(component, normalize=True, source="s")]
    )
    texts = ["Good text. Teh bda.", "Fine words here."]
    reward.calibrate(P * 2, texts)
    values = [1.0, 0.0, 1.0]  # the three sentences
    assert reward.stats["sentence_spelling"].mean == pytest.approx(np.mean(values))
    assert reward.stats["sentence_spelling"].count == 3
    z = (np.array(values) - np.mean(values)) / np.std(values)
    breakdown = reward.breakdown(P * 2, texts)
    assert [v for _, v in breakdown.aspect_placements[0]] == pytest.approx([sigmoid(z[0]), sigmoid(z[1])])
