"""`rewardkit score`: JSON lines in, the same records with rewards out; bad records named; file output atomic."""

from __future__ import annotations

import json
import re

import pytest
import torch

from rewardkit.cli.main import main
from rewardkit.evaluation.evaluate import load_scorer

RECORDS = [
    {"prompt": "What is 2+2?", "response": "4", "id": "a"},
    {"prompt": [{"role": "user", "content": "Say hi"}], "response": "Hi there, ünïcode"},
    {"messages": [{"role": "user", "content": "Name a colour"}, {"role": "assistant", "content": "Blue"}]},
]


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def jsonl(records):
    return [json.dumps(r, ensure_ascii=False) for r in records]


def test_file_to_file_keeps_every_field_and_scores_like_offline_scoring(tiny_rm_dir, tmp_path):
    source = write_lines(tmp_path / "in.jsonl", jsonl(RECORDS[:2]) + [""] + jsonl(RECORDS[2:]))
    out = tmp_path / "scored.jsonl"
    assert (
        main(["score", "--model", str(tiny_rm_dir), "--input", str(source), "--output", str(out), "--batch-size", "2"])
        == 0
    )
    scored = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [{k: v for k, v in r.items() if k != "reward"} for r in scored] == RECORDS  # the blank line is skipped
    assert "ünïcode" in out.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "scored.jsonl"]  # no temporary left
    prompts = [[{"role": "user", "content": c}] for c in ("What is 2+2?", "Say hi", "Name a colour")]
    expected = load_scorer(str(tiny_rm_dir)).score(prompts, ["4", "Hi there, ünïcode", "Blue"])["rewards"]
    torch.testing.assert_close(torch.tensor([r["reward"] for r in scored]), expected.float(), rtol=1e-4, atol=1e-4)
    assert len({r["reward"] for r in scored}) == 3


def test_policy_model_adds_the_implicit_reward_on_stdout(tiny_haf_dir, tmp_path, capsys):
    assert (
        main(
            [
                "score",
                "--model",
                str(tiny_haf_dir),
                "--input",
                str(write_lines(tmp_path / "in.jsonl", jsonl(RECORDS[:1]))),
            ]
        )
        == 0
    )
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert set(record) == {"prompt", "response", "id", "reward", "implicit_reward"}
    assert record["implicit_reward"] != 0.0


@pytest.mark.parametrize(
    "bad, message",
    [
        ('{"prompt": "hi"}', "record 2, field 'response': missing field"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', "record 2, field 'messages': the last message must be"),
        ("[1, 2]", "record 2: expected a JSON object"),
        ('{"prompt": "hi", ', "record 2: invalid JSON"),
    ],
)
def test_a_bad_record_is_named_by_line_and_nothing_is_written(tiny_rm_dir, tmp_path, capsys, bad, message):
    out = tmp_path / "scored.jsonl"
    source = write_lines(tmp_path / "in.jsonl", jsonl(RECORDS[:1]) + ["", bad])
    assert main(["score", "--model", str(tiny_rm_dir), "--input", str(source), "--output", str(out)]) == 2
    assert re.search(re.escape(f"{source}, {message}"), capsys.readouterr().err)
    assert not out.exists()
