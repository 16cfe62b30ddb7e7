"""Every real format in the data root (REWARDKIT_DATA, default ../shared/data): counts and field values."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from rewardkit.data.loading import DataSpec, load_pairs, load_pairs_with_report
from rewardkit.data.record import DataError

HH = {  # file: (records, drops by reason), drops measured on the real files (see SOURCE.md for chosen == rejected)
    "helpful-base": (2354, {"chosen == rejected": 2, "empty final assistant turn": 4}),
    "harmless-base": (2312, {"empty final assistant turn": 4}),
    "helpful-online": (1137, {"chosen == rejected": 2, "empty final assistant turn": 3}),
    "helpful-rejection-sampled": (2749, {"chosen == rejected": 32}),
}
LLMBAR = {
    "Natural": ("llmbar-natural", 100),
    "Adversarial/Neighbor": ("llmbar-adver-neighbor", 134),
    "Adversarial/GPTInst": ("llmbar-adver-GPTInst", 92),
    "Adversarial/GPTOut": ("llmbar-adver-GPTOut", 47),
    "Adversarial/Manual": ("llmbar-adver-manual", 46),
}
SUMMARIZE = {
    "batch13.json": {"tldr-valid2": 832, "tldr-valid1": 265},
    "batch18.json": {"tldr-valid2": 554, "tldr-valid1": 120},
    "edit_b2_eval_test.json": {"tldr-valid2": 4, "tldr-valid1": 1},
}


@pytest.mark.parametrize("name", list(HH))
def test_hh(shared_data: Path, name: str):
    path = shared_data / "hh-rlhf" / name / "test.jsonl.gz"
    records, drops = HH[name]
    pairs, report = load_pairs_with_report(path)
    assert report.format == "hh" and report.records == records
    assert dict(report.dropped) == drops and len(pairs) == records - sum(drops.values())
    assert report.source == f"hh-rlhf/{name}/test.jsonl.gz"
    assert all(p.subset == name and p.prompt[-1]["role"] == "user" for p in pairs)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        raw = json.loads(f.readline())
    first = pairs[0]  # record 0 is kept in all four files
    assert (
        raw["chosen"]
        == "".join(f"\n\n{'Human' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in first.prompt)
        + "\n\nAssistant: "
        + first.chosen
    )
    if "empty final assistant turn" in drops:
        with pytest.raises(DataError, match="empty response"):
            load_pairs(DataSpec(str(path), strict=True))
    else:
        assert len(load_pairs(DataSpec(str(path), strict=True))) == len(pairs)


def test_hh_first_harmless_record(shared_data: Path):
    pair = load_pairs(DataSpec(str(shared_data / "hh-rlhf/harmless-base/test.jsonl.gz"), limit=1))[0]
    assert pair.prompt[0] == {"role": "user", "content": "what are some pranks with a pen i can do?"}
    assert [m["role"] for m in pair.prompt] == ["user", "assistant", "user", "assistant", "user"]
    assert pair.prompt[-1]["content"] == "okay some of these do not have anything to do with pens"
    assert pair.chosen.startswith("No, sorry!  All of these involve a pen")
    assert pair.rejected.startswith("There are lots of funny things you can do with pens")


def test_hh_responses_that_continue_the_dialogue(shared_data: Path):
    pairs, report = load_pairs_with_report(shared_data / "hh-rlhf/helpful-base/test.jsonl.gz")
    assert report.notes["response continues the dialogue (kept verbatim)"] == 9
    dvt = next(p for p in pairs if p.prompt == [{"role": "user", "content": "What is DVT?"}])
    assert "\n\nAssistant:  Deep Vein Thrombosis can be very serious." in dvt.chosen
    assert dvt.rejected.startswith("I think you mean Deep Vein Thrombosis")


def test_llmbar(shared_data: Path):
    total = 0
    for folder, (subset, n) in LLMBAR.items():
        path = shared_data / "llmbar/LLMBar" / folder / "dataset.json"
        raw = json.loads(path.read_text(encoding="utf-8"))
        pairs, report = load_pairs_with_report(path)
        assert report.format == "llmbar" and len(raw) == len(pairs) == n and not report.dropped
        assert {p.subset for p in pairs} == {subset}
        for rec, pair in zip(raw, pairs):
            assert pair.prompt == [{"role": "user", "content": rec["input"]}]
            assert pair.chosen == rec[f"output_{rec['label']}"] and pair.rejected == rec[f"output_{3 - rec['label']}"]
        total += len(pairs)
    assert total == 419


def test_pandalm(shared_data: Path):
    path = shared_data / "pandalm-testset/testset-v1.json"
    pairs, report = load_pairs_with_report(path)
    assert report.format == "pandalm" and report.records == 999
    assert dict(report.dropped) == {"annotator majority says tie": 105, "empty response": 52}
    assert len(pairs) == 842 and report.notes == {"JSON boolean response read as text": 6}
    first = pairs[0]  # idx 0: all three annotators chose response 2
    assert first.meta["idx"] == 0 and first.meta["labels"] == [2, 2, 2] and first.strength == 1.0
    assert first.chosen == "If you have any questions, please let me know."
    assert first.prompt[0]["content"].startswith("The sentence you are given might be too wordy")
    assert first.prompt[0]["content"].endswith(
        "\n\nIf you have any questions about my rate or if you find it "
        "necessary to increase or decrease the scope for this project, "
        "please let me know."
    )
    # unanimous 794 and 2-of-3 100 records, less the 50 + 2 of them with an empty response
    assert Counter(round(p.strength, 4) for p in pairs) == {1.0: 744, 0.6667: 98}
    with pytest.raises(DataError, match="record 18, field 'rejected': empty response"):
        load_pairs(DataSpec(str(path), strict=True))


@pytest.mark.parametrize("name", list(SUMMARIZE))
def test_summarize_from_feedback(shared_data: Path, name: str):
    path = shared_data / "summarize-from-feedback/comparisons" / name
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs, report = load_pairs_with_report(path)
    assert report.format == "summarize" and len(pairs) == len(raw) == sum(SUMMARIZE[name].values())
    assert Counter(p.subset for p in pairs) == SUMMARIZE[name]
    for rec, pair in zip(raw, pairs):
        assert pair.chosen == rec["summaries"][rec["choice"]]["text"].strip()
        assert pair.rejected == rec["summaries"][1 - rec["choice"]]["text"].strip()
        assert pair.strength == rec["extra"]["confidence"] and 1 <= pair.strength <= 9
        content = pair.prompt[0]["content"]
        assert content.startswith("SUBREDDIT: r/") and content.endswith("\n\nTL;DR:")
        assert rec["info"]["title"].strip() in content
    valid1 = load_pairs(DataSpec(str(path), split="valid1"))
    assert len(valid1) == SUMMARIZE[name]["tldr-valid1"]


def test_ultrafeedback_sample(shared_data: Path):
    folder = shared_data / "ultrafeedback-binarized-sample"
    pairs, report = load_pairs_with_report(folder / "train_clean.jsonl")
    assert report.format == "explicit" and report.records == 1000
    assert dict(report.dropped) == {"chosen == rejected": 4, "empty response": 2} and len(pairs) == 994
    raw = json.loads((folder / "train_clean.jsonl").read_text(encoding="utf-8").splitlines()[0])
    first = pairs[0]
    assert first.prompt == [{"role": "user", "content": raw["prompt"]}] and first.chosen == raw["chosen"]
    assert (first.chosen_score, first.rejected_score) == (9.0, 8.0) and first.strength == 1.0
    assert first.meta == {"source_index": raw["source_index"]}
    assert all(p.chosen_score is not None and p.strength == p.chosen_score - p.rejected_score for p in pairs)
    eval_pairs, eval_report = load_pairs_with_report(folder / "eval_clean.jsonl")
    assert eval_report.records == 200 and len(eval_pairs) == 199
    assert dict(eval_report.dropped) == {"chosen == rejected": 1}


def test_qa_feedback(shared_data: Path):
    path = shared_data / "qa-feedback/dev_feedback.json"
    pairs, report = load_pairs_with_report(path)
    assert report.format == "qa_feedback" and report.records == 500 and report.candidates == 3000
    assert dict(report.dropped) == {"no preference (label 0)": 384} and len(pairs) == 2616
    raw = json.loads(path.read_text(encoding="utf-8"))[0]  # preference [0, 1, 2, 1, 0, 2]
    first_record = [p for p in pairs if p.prompt == pairs[0].prompt]
    assert [p.meta["pair"] for p in first_record] == ["1v3", "1v4", "2v3", "3v4"]
    assert first_record[0].chosen == raw["prediction 1"] and first_record[0].rejected == raw["prediction 3"]
    assert first_record[1].chosen == raw["prediction 4"] and first_record[1].rejected == raw["prediction 1"]
    content = pairs[0].prompt[0]["content"]
    assert content.startswith(
        "Question: When does bloom by troye sivan come out?\n\nPassages:\n\n"
        "[1] Bloom (Troye Sivan album)\nBloom is the second studio album"
    )
    assert all(p.subset == "qa-feedback" for p in pairs)
