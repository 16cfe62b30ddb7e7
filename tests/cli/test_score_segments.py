"""`rewardkit score` on a segment-level model: one reward per segment, and their sum as the record's reward."""

from __future__ import annotations

import json

import pytest
import torch

from rewardkit.cli.main import main
from rewardkit.data.segments import split_sentences
from rewardkit.evaluation.segments import load_segment_scorer
from rewardkit.models.loading import load_tokenizer
from rewardkit.models.reward_model import ModelConfig
from rewardkit.models.segment_model import build_segment_model, export_segment_model


def test_score_cli_gives_per_segment_rewards(tiny_model_dir, tmp_path, capsys):
    torch.manual_seed(1)
    model = build_segment_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    export = export_segment_model(
        model,
        load_tokenizer(str(tiny_model_dir)),
        tmp_path / "seg",
        metadata={"aspect": "factuality", "granularity": "sentence", "max_length": 256},
    )
    record = {"prompt": "When was Paris founded?", "response": "Long ago. By the Parisii. Maybe.", "id": 7}
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(record) + "\n")
    assert main(["score", "--model", str(export), "--input", str(source)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    out = json.loads(line)
    assert [s["end"] for s in out["segments"]] == [e for _, e in split_sentences(record["response"])]
    assert out["reward"] == pytest.approx(sum(s["reward"] for s in out["segments"]))
    expected = load_segment_scorer(export).score(
        [[{"role": "user", "content": record["prompt"]}]], [record["response"]]
    )[0]
    assert [s["reward"] for s in out["segments"]] == pytest.approx([v for _, v in expected])
    assert out["id"] == 7
