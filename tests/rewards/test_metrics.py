"""Offline metric aspects on hand-made texts."""

from __future__ import annotations

import pytest

from rewardkit.rewards.metrics import build_metric, repeated_ngram_ends

P = [[{"role": "user", "content": "q"}]]


def test_length_words_and_chars():
    assert build_metric("length").score(P * 2, ["Hello, big world! 42", ""]) == [3.0, 0.0]
    assert build_metric("length", options={"unit": "chars"}).score(P, ["abc"]) == [3.0]
    with pytest.raises(ValueError, match="unit"):
        build_metric("length", options={"unit": "tokens"})


def test_repetition_rate_and_placement():
    text = "a b c a b c"  # 3-grams: abc, bca, cab, abc -> one repeat out of four
    ends, total = repeated_ngram_ends(text, 3)
    assert (ends, total) == ([11], 4)
    metric = build_metric("repetition", options={"n": 3})
    assert metric.placements(P, [text]) == [[(11, -0.25)]]
    assert metric.score(P * 3, [text, "one two", "x y z w"]) == [-0.25, 0.0, 0.0]
    assert build_metric("repetition", options={"n": 1}).score(P, ["no no no"]) == [pytest.approx(-2 / 3)]


def test_spelling_errors_on_their_words():
    metric = build_metric("spelling")
    assert metric.placements(P, ["teh cat"]) == [[(3, -0.5)]]
    assert metric.score(P * 2, ["The cat sat on the mat.", ""]) == [0.0, 0.0]


def test_readability_easy_beats_hard():
    easy, hard = "The cat sat. It was fun.", "Notwithstanding considerable institutional heterogeneity, organisational."
    scores = build_metric("readability").score(P * 3, [easy, hard, "  "])
    assert scores[0] > scores[1] and scores[2] == 0.0
    assert all(0.0 <= s <= 100.0 for s in scores)


def test_language_confidence_uses_the_item_meta():
    german = "Ich trinke jeden Morgen eine Tasse Kaffee mit Milch."
    metric = build_metric("language")
    to_german, to_english = metric.score(P * 2, [german, german], [{"language": "de"}, {}])
    assert to_german > 0.8 > 0.2 > to_english
    with pytest.raises(ValueError, match="xx"):
        build_metric("language", options={"language": "xx"})


def test_unknown_metric_and_option():
    with pytest.raises(ValueError, match="unknown metric"):
        build_metric("fluency")
    with pytest.raises(ValueError, match="unknown option"):
        build_metric("repetition", options={"size": 2})


def test_batch_errors_name_the_item():
    with pytest.raises(TypeError, match="response 1"):
        build_metric("length").score(P * 2, ["ok", None])
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        build_metric("length").score(P * 2, ["ok"])
