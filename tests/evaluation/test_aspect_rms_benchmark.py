"""benchmarks/aspect_rms.py: its human-label arithmetic by hand, and (slow) the whole quick pipeline on a tiny
model and synthetic QA-Feedback records."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rewardkit.data.readers.qa_segments import CandidateSet
from rewardkit.testing.qa import write_qa_feedback

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("aspect_rms_benchmark", REPO / "benchmarks" / "aspect_rms.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_human_label_arithmetic(bench):
    # pairs 1v2, 1v3, 1v4, 2v3, 2v4, 3v4; labels: 1 first better, 2 second better, 0 none
    sets = [CandidateSet(prompt=[], candidates=["a", "b", "c", "d"], preference=[1, 2, 0, 1, 2, 0])]
    assert bench.pair_label(sets, 0, 0, 1) == 1 and bench.pair_label(sets, 0, 1, 0) == -1
    assert bench.pair_label(sets, 0, 2, 0) == 1 and bench.pair_label(sets, 0, 3, 0) == 0
    # prediction 1: wins 1v2, loses 1v3, ties 1v4 -> 1.5 / 3
    assert bench.human_wins(sets, 0, 0) == pytest.approx(0.5)
    # prediction 4: ties 1v4, wins 2v4, ties 3v4 -> 2 / 3
    assert bench.human_wins(sets, 3, 0) == pytest.approx(2 / 3)
    assert bench.human_prefs(sets).tolist() == [[1, -1, 0, 1, -1, 0]]
    scores = np.array([[3.0, 1.0, 2.0, 2.0]])
    assert bench.pair_prefs(scores).tolist() == [[1, 1, 1, -1, -1, 0]]


def test_summary_line_uses_the_best_baseline(bench):
    def aspect(model, baselines):
        return {"model": {"macro_f1": model}, "baselines": {k: {"macro_f1": v} for k, v in baselines.items()}}

    result = {
        "preset": {"name": "quick"},
        "trained": {
            "relevance": aspect(0.7, {"majority": 0.3, "prompt_overlap": 0.6}),
            "factuality": aspect(0.5, {"majority": 0.4, "length": 0.45}),
        },
        "analysis": {"best_of_4": {"vs_holistic": {"changed_share": 0.12}}},
    }
    assert bench.summary_line(result) == (
        "aspects quick relevance_f1=0.7000 factuality_f1=0.5000 baseline_f1=0.5250 changed_picks=0.1200"
    )


@pytest.mark.slow
def test_quick_pipeline_on_a_tiny_model(bench, tiny_model_dir, tmp_path, capsys, monkeypatch):
    data = tmp_path / "data" / "qa-feedback"
    data.mkdir(parents=True)
    write_qa_feedback(data / "dev_feedback.json", 130)
    code = bench.main(
        [
            "--quick",
            "--data-root",
            str(tmp_path / "data"),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--results-dir",
            str(tmp_path),
            "--no-docs",
            "--set",
            f"model={tiny_model_dir}",
            "--set",
            "top_layers=1",
            "--set",
            "epochs=1",
            "--set",
            "holistic_questions=10",
        ]
    )
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("aspects quick relevance_f1=") and "changed_picks=" in last
    result = json.loads((tmp_path / "aspect_rms_quick.json").read_text())
    assert result["analysis"]["best_of_4"]["questions"] == 100
    assert {r["name"] for r in result["analysis"]["consistency"]} >= {"relevance", "factuality", "completeness"}
