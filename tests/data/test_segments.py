"""Segmentation and span-to-segment labelling (data/segments.py) and the QA-Feedback segment reader, on
hand-made examples."""

from __future__ import annotations

import json
import random

import pytest

from rewardkit.data.readers.qa_segments import (
    PromptFormat,
    aspect_spec,
    candidate_sets,
    load_qa_records,
    parse_qa_prompt,
    preference_pairs,
    question_split,
    segment_example,
    segment_examples,
    truncate_words,
)
from rewardkit.data.record import DataError
from rewardkit.data.segments import (
    ErrorSpan,
    label_segments,
    split_answer,
    split_segments,
    split_sentences,
    split_subsentences,
    subsentence_starts,
)
from rewardkit.testing.qa import write_qa_feedback


def texts(text, spans):
    return [text[s:e] for s, e in spans]


def test_sentences_skip_abbreviations_initials_and_acronyms():
    text = "Dr. Smith went to Washington. He arrived on Jan. 5, 1990.  The U.S. Army was there! Was it? Yes."
    assert texts(text, split_sentences(text)) == [
        "Dr. Smith went to Washington.",
        "He arrived on Jan. 5, 1990.",
        "The U.S. Army was there!",
        "Was it?",
        "Yes.",
    ]
    text = 'J. K. Rowling wrote "Harry Potter." It sold well.\n\nsecond paragraph without a stop'
    assert texts(text, split_sentences(text)) == [
        'J. K. Rowling wrote "Harry Potter."',
        "It sold well.",
        "second paragraph without a stop",
    ]
    assert split_sentences("  ") == [] and texts(" a b ", split_sentences(" a b ")) == ["a b"]


def test_subsentence_rule_of_finegrainedrlhf():
    # a cut after a word ending in , ; ! ? when >= 6 words follow and the piece has >= 5 words
    words = [
        "Alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon,",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa,",
        "lambda",
        "mu",
        "nu",
        "xi",
        "omicron",
        "pi.",
    ]
    assert subsentence_starts(words) == [0, 5, 10]
    # the first piece grows until it has 5 words
    assert subsentence_starts(
        [
            "One",
            "two,",
            "three",
            "four",
            "five",
            "six",
            "seven,",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen.",
        ]
    ) == [0, 7]
    # a later short piece joins the one before it: the earlier cut moves
    assert subsentence_starts(["A", "b", "c", "d", "e,", "f", "g,", "h", "i", "j", "k", "l", "m."]) == [0, 7]
    # fewer than 6 words after the comma: no cut
    assert subsentence_starts(["A", "b", "c", "d", "e,", "f", "g", "h", "i."]) == [0]
    text = "A b c d e, f g, h i j k l end. Short one, here."  # ("m." would read as an initial)
    assert texts(text, split_subsentences(text)) == ["A b c d e, f g,", "h i j k l end.", "Short one, here."]


def test_answer_and_unknown_granularity():
    assert split_answer("  whole answer.  ") == [(2, 15)]
    assert split_segments("", "answer") == []
    with pytest.raises(ValueError, match="granularity"):
        split_segments("x", "paragraph")


def test_label_segments_overlap_ignore_and_short_spans():
    text = "Good one here. Bad bit is this one right. Also fine."
    segs = split_sentences(text)
    bad = text.index("Bad")
    irrelevant = ErrorSpan(bad, text.index("right.") + 6, "Irrelevant")
    assert label_segments(text, segs, [irrelevant], ["Irrelevant"]) == [1.0, 0.0, 1.0]
    # a span that only covers the whitespace between two sentences touches neither
    assert label_segments(text, segs, [ErrorSpan(bad - 1, bad, "Irrelevant")], ["Irrelevant"]) == [1.0, 1.0, 1.0]
    # a span reaching one character into a sentence marks it
    assert label_segments(text, segs, [ErrorSpan(bad - 1, bad + 1, "Irrelevant")], ["Irrelevant"]) == [1.0, 0.0, 1.0]
    # spans of short_span_types under min_span_words words are disregarded
    short = ErrorSpan(bad, bad + len("Bad bit"), "Irrelevant")
    assert label_segments(text, segs, [short], ["Irrelevant"], short_span_types=["Irrelevant"], min_span_words=5) == [
        1.0,
        1.0,
        1.0,
    ]
    # factuality: a sentence with only a non-factual error is not judged
    wrong = ErrorSpan(text.index("Also"), len(text), "Wrong-Grounding")
    assert label_segments(text, segs, [irrelevant, wrong], ["Wrong-Grounding"], ignore_types=["Irrelevant"]) == [
        1.0,
        None,
        0.0,
    ]


RECORD_TEXT = (
    "Paris is the capital of France, and it lies on the Seine river. The Eiffel Tower was built in 1999. "
    "Cats are nice pets that many people keep at home."
)


def hand_record(question="What is the capital of France?", missing=("Missing-Minor-Auxiliary",)):
    wrong_start = RECORD_TEXT.index("The Eiffel")
    cats = RECORD_TEXT.index("Cats")
    return {
        "question": question,
        "passages": [["Paris", "Paris\n\nParis is the capital of France.", "It is big."]],
        "gold": "Paris.",
        "prediction 1": RECORD_TEXT,
        "prediction 2": "Paris.",
        "prediction 3": "Lyon.",
        "prediction 4": "Paris, France.",
        "feedback": {
            "errors": [
                {"error type": "Wrong-Grounding", "start": wrong_start, "end": cats - 1},
                {"error type": "Irrelevant", "start": cats, "end": len(RECORD_TEXT)},
            ],
            "missing-info": [{"error type": m} for m in missing],
            "corrected-prediction": "Paris.",
        },
        "preference": [1, 1, 0, 2, 2, 1],
    }


def test_qa_record_to_aspect_examples(tmp_path):
    path = tmp_path / "qa.json"
    path.write_text(json.dumps([hand_record()]))
    (record,) = load_qa_records(path)
    rel = segment_example(record, "relevance")
    assert texts(RECORD_TEXT, rel.segments) == [
        "Paris is the capital of France,",
        "and it lies on the Seine river.",
        "The Eiffel Tower was built in 1999.",
        "Cats are nice pets that many people keep at home.",
    ]
    assert rel.labels == [1.0, 1.0, 1.0, 0.0]
    assert rel.prompt == [{"role": "user", "content": "Question: What is the capital of France?"}]
    fact = segment_example(record, "factuality")
    assert fact.labels == [1.0, 0.0, None]
    assert fact.prompt[0]["content"] == (
        "Question: What is the capital of France?\n\nPassages:\n\n[1] Paris\nParis is the capital of France. It is big."
    )
    assert segment_example(record, "completeness").labels == [1.0]  # minor missing info does not count
    path.write_text(json.dumps([hand_record(missing=("Missing-Major-Auxiliary",))]))
    assert segment_example(load_qa_records(path)[0], "completeness").labels == [0.0]
    assert record.preference == [1, 1, 0, 2, 2, 1]
    pairs = preference_pairs([record], PromptFormat(passages=False))
    assert len(pairs) == 5 and all(p.prompt == rel.prompt for p in pairs)
    (cands,) = candidate_sets([record])
    assert cands.candidates[1] == "Paris." and cands.preference == record.preference
    assert aspect_spec("factuality").granularity == "sentence"
    with pytest.raises(ValueError, match="aspect"):
        aspect_spec("fluency")


def test_bad_spans_are_named(tmp_path):
    record = hand_record()
    record["feedback"]["errors"][0]["end"] = 10_000
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([hand_record(), record]))
    with pytest.raises(DataError, match=r"record 1.*feedback.errors\[0\].*inside 'prediction 1'"):
        load_qa_records(path)


def test_prompt_format_round_trip_and_word_budget():
    fmt = PromptFormat(max_passage_words=3)
    messages = fmt.messages("Who?", "[1] T\nOne two three four.")
    assert messages[0]["content"] == "Question: Who?\n\nPassages:\n\n[1] T\nOne"
    assert parse_qa_prompt(messages) == ("Who?", "[1] T\nOne")
    assert PromptFormat(passages=False).apply(messages) == [{"role": "user", "content": "Question: Who?"}]
    other = [{"role": "user", "content": "Hello"}]
    assert PromptFormat(passages=False).apply(other) == other
    assert truncate_words("a  b\nc d", 3) == "a  b\nc" and truncate_words("a b", 5) == "a b"


def test_question_split_is_by_question_and_order_free(tmp_path):
    path = write_qa_feedback(tmp_path / "qa.json", 30)
    train = load_qa_records(path, "train", test_questions=8)
    test = load_qa_records(path, "test", test_questions=8)
    assert len(train) == 22 and len(test) == 8
    assert not {r.question for r in train} & {r.question for r in test}
    records = json.loads(path.read_text())
    random.Random(1).shuffle(records)
    shuffled = tmp_path / "shuffled.json"
    shuffled.write_text(json.dumps(records))
    assert {r.question for r in load_qa_records(shuffled, "test", test_questions=8)} == {r.question for r in test}
    for aspect in ("relevance", "factuality", "completeness"):
        train_q = {ex.meta["question"] for ex in segment_examples(train, aspect)}
        test_q = {ex.meta["question"] for ex in segment_examples(test, aspect)}
        assert train_q and test_q and not train_q & test_q
    train_prompts = {json.dumps(p.prompt) for p in preference_pairs(train)}
    assert train_prompts and not train_prompts & {json.dumps(c.prompt) for c in candidate_sets(test)}
    with pytest.raises(ValueError, match="no training question"):
        question_split(["a", "b"], 2)


def test_real_qa_feedback_split(shared_data):
    path = shared_data / "qa-feedback/dev_feedback.json"
    train, test = load_qa_records(path, "train"), load_qa_records(path, "test")
    assert (len(train), len(test)) == (400, 100)
    assert not {r.question for r in train} & {r.question for r in test}
    examples = segment_examples(train, "relevance")
    labels = [y for ex in examples for y in ex.labels]
    assert len(examples) == 400 and 0.3 < labels.count(0.0) / len(labels) < 0.7
