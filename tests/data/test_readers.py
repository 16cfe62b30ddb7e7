"""Readers, containers and the loader on hand-written records (tmp_path files)."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from rewardkit.data.io import iter_records, parse_hub
from rewardkit.data.loading import DataSpec, load_many, load_pairs, load_pairs_with_report, save_pairs
from rewardkit.data.readers import detect_format, parse_transcript, split_pair
from rewardkit.data.record import DataError, PreferencePair


def write_jsonl(path: Path, records: list, gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def hh(*turns: str) -> str:
    """'H:...' / 'A:...' shorthand -> an HH transcript."""
    names = {"H": "Human", "A": "Assistant"}
    return "".join(f"\n\n{names[t[0]]}: {t[2:]}" for t in turns)


def assert_names(err: pytest.ExceptionInfo, path: Path, index: int, field: str) -> None:
    msg = str(err.value)
    assert str(path) in msg and f"record {index}" in msg and f"field '{field}'" in msg, msg
    assert (err.value.index, err.value.field) == (index, field)


# ---------------------------------------------------------------- HH transcripts


def test_parse_transcript_multi_turn_and_inline_markers():
    text = hh("H:Hi there", "A:Hello.  Human: this is not a turn", "H: two spaces", "A:")
    turns = parse_transcript(text)
    assert [(t.role, t.content) for t in turns] == [
        ("user", "Hi there"),
        ("assistant", "Hello.  Human: this is not a turn"),
        ("user", " two spaces"),
        ("assistant", ""),
    ]


def test_parse_transcript_rejects_text_without_markers():
    with pytest.raises(DataError):
        parse_transcript("just some text")
    with pytest.raises(DataError):
        parse_transcript("preamble" + hh("H:hi", "A:yo"))


def test_split_pair_multi_turn():
    prompt, c, r, continues = split_pair(hh("H:q1", "A:a1", "H:q2", "A:good"), hh("H:q1", "A:a1", "H:q2", "A:bad"))
    assert prompt == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]
    assert (c, r, continues) == ("good", "bad", False)


def test_split_pair_response_that_continues_the_dialogue_is_kept_verbatim():
    # as in helpful-base record 567: one response goes on with invented turns
    chosen = hh("H:What is DVT?", "A:A clot.", "H:More?", "A:Serious.")
    prompt, c, r, continues = split_pair(chosen, hh("H:What is DVT?", "A:Deep vein thrombosis."))
    assert prompt == [{"role": "user", "content": "What is DVT?"}]
    assert c == "A clot.\n\nHuman: More?\n\nAssistant: Serious." and r == "Deep vein thrombosis."
    assert continues


def test_split_pair_when_rejected_extends_chosen():
    # as in helpful-online record 785: rejected = chosen + an invented Human turn
    chosen = hh("H:plan a trip", "A:Go to Cabo.")
    prompt, c, r, continues = split_pair(chosen, chosen + "\n\nHuman: Thanks!")
    assert prompt == [{"role": "user", "content": "plan a trip"}]
    assert (c, r, continues) == ("Go to Cabo.", "Go to Cabo.\n\nHuman: Thanks!", True)


def test_hh_empty_final_turn_dropped_by_default_and_error_when_strict(tmp_path, caplog):
    path = write_jsonl(
        tmp_path / "hh.jsonl",
        [
            {"chosen": hh("H:hi", "A:hello"), "rejected": hh("H:hi", "A:go away")},
            {"chosen": hh("H:hi", "A:hello"), "rejected": hh("H:hi", "A: ")},
        ],
    )
    with caplog.at_level(logging.INFO, logger="rewardkit.data"):
        pairs, report = load_pairs_with_report(path)
    assert [p.chosen for p in pairs] == ["hello"]
    assert report.dropped == {"empty final assistant turn": 1}
    assert "dropped 1 of 2 pairs (empty final assistant turn: 1)" in caplog.text
    with pytest.raises(DataError) as err:
        load_pairs(DataSpec(str(path), strict=True))
    assert_names(err, path, 1, "rejected")


def test_hh_pair_fields(tmp_path):
    (tmp_path / "harmless-base").mkdir()
    path = write_jsonl(
        tmp_path / "harmless-base" / "test.jsonl.gz",
        [{"chosen": hh("H:q", "A:yes"), "rejected": hh("H:q", "A:no")}],
        gz=True,
    )
    [pair] = load_pairs(path)
    assert pair.subset == "harmless-base" and pair.source.endswith("harmless-base/test.jsonl.gz")
    assert (pair.chosen, pair.rejected) == ("yes", "no")


# ---------------------------------------------------------------- explicit / TRL


def test_explicit_string_and_conversational_formats(tmp_path):
    msgs = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}]
    path = write_jsonl(
        tmp_path / "x.jsonl",
        [
            {"prompt": "hi", "chosen": "a", "rejected": "b", "margin": 0.5, "subset": "s1", "id": 7},
            {
                "prompt": msgs,
                "chosen": [{"role": "assistant", "content": "a"}],
                "rejected": msgs + [{"role": "assistant", "content": "b"}],
            },
            {
                "chosen": msgs + [{"role": "assistant", "content": "a"}],  # implicit prompt
                "rejected": msgs + [{"role": "assistant", "content": "b"}],
                "metadata": "{'score_chosen': 9.0, 'score_rejected': 7.5}",
            },
            {"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": 3, "score_rejected": 1},
        ],
    )
    p0, p1, p2, p3 = load_pairs(path)
    assert p0.prompt == [{"role": "user", "content": "hi"}] and (p0.margin, p0.subset) == (0.5, "s1")
    assert p0.meta == {"id": 7}
    assert p1.prompt == msgs and (p1.chosen, p1.rejected) == ("a", "b")
    assert p2.prompt == msgs and (p2.chosen, p2.rejected) == ("a", "b")
    assert (p2.chosen_score, p2.rejected_score, p2.strength) == (9.0, 7.5, 1.5) and p2.meta == {}
    assert (p3.chosen_score, p3.rejected_score, p3.strength) == (3, 1, 2)


def test_explicit_implicit_prompt_needs_one_assistant_message_after_the_shared_part(tmp_path):
    u = {"role": "user", "content": "q"}
    path = write_jsonl(
        tmp_path / "x.jsonl",
        [
            {
                "chosen": [u, {"role": "assistant", "content": "a"}, {"role": "user", "content": "more"}],
                "rejected": [u, {"role": "assistant", "content": "b"}],
            },
        ],
    )
    with pytest.raises(DataError) as err:
        load_pairs(path)
    assert_names(err, path, 0, "chosen")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "record, field",
    [
        ({"prompt": "q", "chosen": "a"}, "rejected"),  # missing field
        ({"prompt": "q", "chosen": 5, "rejected": "b"}, "chosen"),  # wrong type
        ({"prompt": 3, "chosen": "a", "rejected": "b"}, "prompt"),  # wrong type
        ({"prompt": "q", "chosen": "a", "rejected": "b", "margin": "big"}, "margin"),  # wrong type (validate_pair)
        ({"prompt": [{"role": "bot", "content": "x"}], "chosen": "a", "rejected": "b"}, "prompt"),  # bad role
        ({"chosen": hh("H:q", "A:a"), "rejected": 1}, "rejected"),  # hh, wrong type
    ],
)
def test_bad_records_name_file_record_and_field(tmp_path, record, field):
    good = (
        {"prompt": "q", "chosen": "a", "rejected": "b"}
        if "prompt" in record
        else {"chosen": hh("H:q", "A:a"), "rejected": hh("H:q", "A:b")}
    )
    path = write_jsonl(tmp_path / "bad.jsonl", [good, record])
    with pytest.raises(DataError) as err:
        load_pairs(path)
    assert_names(err, path, 1, field)


def test_empty_response_error_when_strict_and_dropped_with_count_otherwise(tmp_path, caplog):
    path = write_jsonl(
        tmp_path / "e.jsonl",
        [{"prompt": "q", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "a", "rejected": "  "}],
    )
    with pytest.raises(DataError) as err:
        load_pairs(DataSpec(str(path), strict=True))
    assert_names(err, path, 1, "rejected")
    assert "empty response" in str(err.value)
    with caplog.at_level(logging.INFO, logger="rewardkit.data"):
        pairs, report = load_pairs_with_report(path)
    assert len(pairs) == 1 and report.dropped == {"empty response": 1}
    assert "e.jsonl: dropped 1 of 2 pairs (empty response: 1)" in caplog.text


def test_undecodable_jsonl_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"prompt": "q", "chosen": "a", "rejected": "b"}\n\n{"prompt": "q", "chosen": "a", "rej\n')
    with pytest.raises(DataError) as err:
        load_pairs(path)
    msg = str(err.value)
    assert str(path) in msg and "record 1" in msg and "line 3" in msg, msg


def test_undecodable_gzip_and_json_array(tmp_path):
    gz = tmp_path / "x.jsonl.gz"
    gz.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="x.jsonl.gz"):
        load_pairs(gz)
    arr = tmp_path / "arr.json"
    arr.write_text('[{"prompt": "q", "chosen": "a", "rejected": "b"},\n {"prompt": ]')
    with pytest.raises(DataError, match=r"arr.json.*line 2"):
        load_pairs(arr)
    bad_utf8 = tmp_path / "u.jsonl"
    bad_utf8.write_bytes(b'{"prompt": "q", "chosen": "a", "rejected": "b"}\n{"prompt": "\xff"}\n')
    with pytest.raises(DataError, match=r"u.jsonl, record 1.*line 2"):
        load_pairs(bad_utf8)


def test_non_object_record_and_unknown_format(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('[{"prompt": "q", "chosen": "a", "rejected": "b"}, [1, 2]]')
    with pytest.raises(DataError) as err:
        load_pairs(path)
    assert "record 1" in str(err.value)
    unknown = write_jsonl(tmp_path / "u.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(DataError, match="cannot detect the format"):
        load_pairs(unknown)
    with pytest.raises(DataError, match="unknown format"):
        DataSpec(str(unknown), format="nope")
    with pytest.raises(DataError, match="no such file"):
        load_pairs(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------- drops, limit, subset, split


def test_chosen_equal_rejected_dropped_with_logged_count(tmp_path, caplog):
    path = write_jsonl(
        tmp_path / "same.jsonl",
        [
            {"prompt": "q", "chosen": "a", "rejected": "b"},
            {"prompt": "q", "chosen": "same", "rejected": "same"},
            {"prompt": "q", "chosen": "same ", "rejected": "same"},
        ],
    )
    with caplog.at_level(logging.INFO, logger="rewardkit.data"):
        pairs = load_pairs(path)
    assert len(pairs) == 1
    [rec] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert rec.levelno == logging.WARNING and rec.name == "rewardkit.data"
    assert rec.getMessage().endswith("same.jsonl: dropped 2 of 3 pairs (chosen == rejected: 2)")


def test_limit_subset_and_load_many(tmp_path):
    path = write_jsonl(
        tmp_path / "l.jsonl",
        [{"prompt": "q", "chosen": f"a{i}", "rejected": "b"} for i in range(5)]
        + [{"prompt": "q", "chosen": "x", "rejected": "x"}] * 2,
    )
    pairs, report = load_pairs_with_report(DataSpec(str(path), limit=3, subset="mine"))
    assert [p.chosen for p in pairs] == ["a0", "a1", "a2"] and {p.subset for p in pairs} == {"mine"}
    assert report.records == 3
    both = load_many([DataSpec(str(path), limit=2), str(path)])
    assert len(both) == 2 + 5


def test_split_filter_on_local_records(tmp_path):
    rec = {
        "info": {"post": "p", "title": "t", "subreddit": "aww"},
        "summaries": [{"text": " x"}, {"text": " y"}],
        "choice": 1,
    }
    path = write_jsonl(tmp_path / "c.json", [{**rec, "split": "valid1"}, {**rec, "split": "valid2"}])
    pairs, report = load_pairs_with_report(DataSpec(str(path), split="valid2"))
    assert len(pairs) == 1 and pairs[0].subset == "tldr-valid2" and report.dropped == {"split != valid2": 1}
    nosplit = write_jsonl(tmp_path / "n.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "b"}])
    with pytest.raises(DataError, match="field 'split'"):
        load_pairs(DataSpec(str(nosplit), split="test"))


# ---------------------------------------------------------------- pairwise formats


def test_pandalm_majority_ties_and_strength(tmp_path):
    base = {"instruction": "Fix it.", "input": "", "response1": "r1", "response2": "r2"}
    path = write_jsonl(
        tmp_path / "p.json",
        [
            {**base, "annotator1": 2, "annotator2": "2", "annotator3": 1},
            {**base, "input": "ctx", "annotator1": 1, "annotator2": 1, "annotator3": 1},
            {**base, "annotator1": 0, "annotator2": 0, "annotator3": 1},  # majority tie
            {**base, "annotator1": 0, "annotator2": 1, "annotator3": 2},  # no majority
            {**base, "response1": True, "annotator1": 1, "annotator2": 1, "annotator3": 0},  # JSON bool
        ],
    )
    pairs, report = load_pairs_with_report(path)
    assert report.format == "pandalm" and len(pairs) == 3
    assert (pairs[0].chosen, pairs[0].rejected, pairs[0].strength) == ("r2", "r1", pytest.approx(2 / 3))
    assert pairs[0].prompt[0]["content"] == "Fix it." and pairs[0].meta["labels"] == [2, 2, 1]
    assert pairs[1].prompt[0]["content"] == "Fix it.\n\nctx" and pairs[1].strength == 1.0
    assert pairs[2].chosen == "True" and report.notes == {"JSON boolean response read as text": 1}
    assert report.dropped == {"annotator majority says tie": 1, "no annotator majority": 1}
    with pytest.raises(DataError) as err:
        load_pairs(DataSpec(str(path), strict=True))
    assert_names(err, path, 4, "response1")


def test_llmbar_label_and_bad_label(tmp_path):
    path = write_jsonl(tmp_path / "d.json", [{"input": "q", "output_1": "o1", "output_2": "o2", "label": 2}])
    [pair] = load_pairs(DataSpec(str(path), format="pairwise"))
    assert (pair.chosen, pair.rejected, pair.subset) == ("o2", "o1", "llmbar")
    bad = write_jsonl(tmp_path / "b.json", [{"input": "q", "output_1": "o1", "output_2": "o2", "label": 3}])
    with pytest.raises(DataError) as err:
        load_pairs(bad)
    assert_names(err, bad, 0, "label")


def test_summarize_cnndm_and_tldr_prompts(tmp_path):
    path = write_jsonl(
        tmp_path / "c.json",
        [
            {
                "info": {"id": "a", "site": "cnn", "title": "T", "article": "Body. "},
                "split": "valid1",
                "summaries": [{"text": " s0", "policy": "p0"}, {"text": " s1", "policy": "p1"}],
                "choice": 0,
                "extra": {"confidence": 7},
            },
            {
                "info": {"post": "P", "title": "T", "subreddit": "r/aww"},
                "summaries": [{"text": "a"}, {"text": "b"}],
                "choice": 1,
                "extra": {},
            },
        ],
    )
    p0, p1 = load_pairs(path)
    assert p0.prompt[0]["content"] == "Body.\n\nTL;DR:" and p0.subset == "cnndm-valid1"
    assert (p0.chosen, p0.rejected, p0.strength, p0.meta["chosen_policy"]) == ("s0", "s1", 7, "p0")
    assert p1.prompt[0]["content"] == "SUBREDDIT: r/aww\n\nTITLE: T\n\nPOST: P\n\nTL;DR:"
    assert (p1.chosen, p1.subset, p1.strength) == ("b", "tldr", None)


def test_qa_feedback_pairs_from_string_preference(tmp_path):
    rec = {
        "question": "Who?",
        "passages": [["Page", "Page\n\nFirst sentence.", "Second."], ["Other", "X."]],
        "prediction 1": "p1",
        "prediction 2": "p2",
        "prediction 3": "p3",
        "prediction 4": "p4",
        "preference": "120012",
    }
    path = tmp_path / "dev_feedback.json"
    path.write_text(json.dumps([rec]))
    pairs, report = load_pairs_with_report(path)
    assert report.format == "qa_feedback" and report.candidates == 6
    assert [(p.chosen, p.rejected) for p in pairs] == [("p1", "p2"), ("p3", "p1"), ("p2", "p4"), ("p4", "p3")]
    assert report.dropped == {"no preference (label 0)": 2}
    assert (
        pairs[0].prompt[0]["content"]
        == "Question: Who?\n\nPassages:\n\n[1] Page\nFirst sentence. Second.\n\n[2] Other\nX."
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{**rec, "preference": [1, 2]}]))
    with pytest.raises(DataError) as err:
        load_pairs(bad)
    assert_names(err, bad, 0, "preference")


def test_detect_format():
    assert detect_format({"prompt": "q", "chosen": "a", "rejected": "b"}) == "explicit"
    assert detect_format({"chosen": [{"role": "user", "content": "q"}], "rejected": []}) == "explicit"
    assert detect_format({"chosen": "\n\nHuman: q", "rejected": "x"}) == "hh"
    assert detect_format({"input": "", "output_1": "", "output_2": "", "label": 1}) == "llmbar"
    with pytest.raises(DataError):
        detect_format({"prompt": "q", "chosen": "a", "rejected": "b"}, among=("llmbar", "pandalm"))


def test_format_override(tmp_path):
    path = write_jsonl(tmp_path / "h.jsonl", [{"chosen": hh("H:q", "A:a"), "rejected": hh("H:q", "A:b")}])
    with pytest.raises(DataError, match="field 'prompt'"):
        load_pairs(DataSpec(str(path), format="explicit"))
    assert load_pairs(DataSpec(str(path), format="hh"))[0].chosen == "a"


# ---------------------------------------------------------------- containers


def test_containers_give_the_same_records(tmp_path):
    records = [{"prompt": "q", "chosen": f"a{i}", "rejected": "b"} for i in range(3)]
    write_jsonl(tmp_path / "a.jsonl", records)
    write_jsonl(tmp_path / "b.json", records)  # JSON Lines named .json
    (tmp_path / "c.json").write_text(json.dumps(records, indent=2))  # JSON array
    write_jsonl(tmp_path / "d.jsonl.gz", records, gz=True)
    with gzip.open(tmp_path / "e.json.gz", "wt") as f:
        json.dump(records, f)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(records), tmp_path / "f.parquet")
    (tmp_path / "g.json").write_text(json.dumps(records[0], indent=2))  # one pretty-printed object
    for name in ("a.jsonl", "b.json", "c.json", "d.jsonl.gz", "e.json.gz", "f.parquet"):
        assert list(iter_records(tmp_path / name)) == records, name
    assert list(iter_records(tmp_path / "g.json")) == records[:1]
    (tmp_path / "x.csv").write_text("a")
    with pytest.raises(DataError, match="unsupported file type"):
        list(iter_records(tmp_path / "x.csv"))


def test_hub_source_uses_load_dataset_only_when_asked(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(name, config=None, split=None):
        calls.append((name, config, split))
        return datasets.Dataset.from_list([{"prompt": "q", "chosen": "a", "rejected": "b"}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    assert parse_hub("hf:org/name") == ("org/name", None, None)
    assert parse_hub("hf:org/name:test:cfg") == ("org/name", "test", "cfg")
    pairs = load_pairs(DataSpec("hf:org/name:test_prefs"))
    assert calls == [("org/name", None, "test_prefs")] and pairs[0].source == "hf:org/name:test_prefs"
    pairs, report = load_pairs_with_report(DataSpec("hf:org/name:x:cfg", split="train"))
    assert calls[-1] == ("org/name", "cfg", "train") and report.source == "hf:org/name:train:cfg"


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", ["out/pairs.jsonl", "pairs.jsonl.gz"])
def test_save_pairs_round_trip(tmp_path, name):
    pairs = [
        PreferencePair(
            prompt=[
                {"role": "system", "content": "s"},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a0"},
                {"role": "user", "content": "q2"},
            ],
            chosen="good ✓",
            rejected="bad",
            subset="x",
            source="src",
            margin=1.5,
            aspects=["harmlessness"],
            chosen_score=8.0,
            rejected_score=2.0,
            strength=0.75,
            meta={"id": 3, "nested": {"k": [1, 2]}},
        ),
        PreferencePair(prompt=[{"role": "user", "content": "q"}], chosen="a", rejected="b"),
    ]
    path = save_pairs(pairs, tmp_path / name)
    back = load_pairs(path)
    assert [p.to_dict() for p in back] == [p.to_dict() for p in pairs]
