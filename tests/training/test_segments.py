"""Segment-model training end to end on a tiny random Llama and synthetic QA-Feedback records: train with the
frozen-trunk cache, evaluate against the baselines, export, score the export the same; the holistic pairwise
RM on the same split; the CLI."""

from __future__ import annotations

import json

import pytest

from rewardkit.cli.main import main
from rewardkit.data.readers.qa_segments import load_qa_records, segment_examples
from rewardkit.evaluation.segments import classification_metrics, judged, load_segment_scorer
from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.segments import SegmentObjectiveConfig
from rewardkit.testing.qa import write_qa_feedback
from rewardkit.training.config import TrainConfig
from rewardkit.training.segments import SegmentDataConfig, SegmentRunConfig, run_segment_training


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory):
    return write_qa_feedback(tmp_path_factory.mktemp("qa") / "qa.json", 40)


def config(model_dir, data, out, aspect="relevance", **train):
    t = dict(
        output_dir=str(out),
        num_epochs=4,
        batch_size=8,
        learning_rate=3e-3,
        logging_steps=2,
        save_steps=1000,
        report_to=["none"],
        eval_before=False,
    )
    t.update(train)
    return SegmentRunConfig(
        model=ModelConfig(name=str(model_dir), tuning="top_layers", top_layers=1, cache_trunk=True),
        data=SegmentDataConfig(path=str(data), aspect=aspect, test_questions=10, max_length=320),
        objective=SegmentObjectiveConfig(),
        training=TrainConfig(**t),
    )


def test_relevance_model_trains_exports_and_scores_the_same(tiny_model_dir, qa_file, tmp_path):
    out = tmp_path / "relevance"
    results = run_segment_training(config(tiny_model_dir, qa_file, out))
    after = results["after"]
    assert results["questions"] == {"train": 30, "validation": 0, "test": 10}
    assert after["segments"] == results["baselines"]["majority"]["segments"] > 10
    losses = [e["loss_segment"] for e in results["log_history"] if "loss_segment" in e]
    assert losses[-1] < losses[0]
    assert after["auroc"] > 0.9, after  # the off-topic sentence is always the same one
    assert (out / "eval.md").exists() and json.loads((out / "results.json").read_text())["aspect"] == "relevance"
    meta = json.loads((out / "export" / "rewardkit.json").read_text())
    assert meta["kind"] == "segment" and meta["granularity"] == "subsentence"
    assert meta["prompt_format"] == {"passages": False, "max_passage_words": None}
    # the export, scored through SegmentScorer on the test questions, reproduces the run's metrics
    test = segment_examples(load_qa_records(qa_file, "test", test_questions=10), "relevance")
    scorer = load_segment_scorer(out / "export")
    values, labels = judged(scorer.score_examples(test), test)
    again = classification_metrics([v > 0 for v in values], labels, values)
    assert again["accuracy"] == pytest.approx(after["accuracy"]) and again["auroc"] == pytest.approx(after["auroc"])


def test_preference_aspect_trains_the_pairwise_rm_on_the_split(tiny_model_dir, qa_file, tmp_path):
    out = tmp_path / "holistic"
    results = run_segment_training(config(tiny_model_dir, qa_file, out, aspect="preference", num_epochs=1))
    assert results["aspect"] == "preference" and (out / "export" / "config.json").exists()
    train = [json.loads(line)["prompt"][0]["content"] for line in (out / "data" / "train.jsonl").open()]
    test = [json.loads(line)["prompt"][0]["content"] for line in (out / "data" / "test.jsonl").open()]
    assert train and test and not set(train) & set(test)
    assert "Passages:" in train[0]  # the holistic RM sees the passages


def test_cli_trains_factuality(tiny_model_dir, qa_file, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "train-segments",
            "--model",
            str(tiny_model_dir),
            "--tuning",
            "full",
            "--data",
            str(qa_file),
            "--aspect",
            "factuality",
            "--test-questions",
            "10",
            "--max-length",
            "320",
            "--num-epochs",
            "1",
            "--max-passage-words",
            "20",
            "--report-to",
            "none",
            "--output-dir",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "aspect: factuality (sentence)" in printed and "baseline: prompt_overlap" in printed
    assert (out / "export" / "rewardkit.json").exists()
