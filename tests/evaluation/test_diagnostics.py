"""Reward-scale diagnostics: hand-computed correlations, their wiring into eval metrics, the plot, the CLI."""

import json
import math

import pytest
import torch

from rewardkit.cli.main import main as cli
from rewardkit.data.priors import BoundParams
from rewardkit.data.record import PreferencePair
from rewardkit.evaluation.diagnostics import (
    MarginPoints,
    kendall_tau_b,
    margin_diagnostics,
    pearson,
    points_from_scores,
    spearman,
    strength_diagnostics,
)
from rewardkit.evaluation.evaluate import markdown_table, metrics_from_scores
from rewardkit.evaluation.plots import plot_margin_vs_similarity
from rewardkit.evaluation.scoring import PairScores


def test_pearson_by_hand():
    # x - mean = (-1, 0, 1), y - mean = (-4/3, -1/3, 5/3): r = 3 / sqrt(2 * 42/9) = 9 / sqrt(84)
    assert pearson([1, 2, 3], [1, 2, 4]) == pytest.approx(9 / math.sqrt(84))
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_spearman_averages_tied_ranks():
    # ranks of y = (1.5, 1.5, 3, 4): rho = 4.5 / sqrt(5 * 4.5)
    assert spearman([1, 2, 3, 4], [1, 1, 2, 3]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)  # ranks only


def test_kendall_tau_b_by_hand():
    assert kendall_tau_b([1, 2, 3], [3, 1, 2]) == pytest.approx(-1 / 3)  # 1 concordant, 2 discordant of 3
    # one tie in y: 5 concordant, 0 discordant; tau_b = 5 / sqrt(6 * 5)
    assert kendall_tau_b([1, 2, 3, 4], [1, 1, 2, 3]) == pytest.approx(5 / math.sqrt(30))
    # one tie in x and one in y: 4 / sqrt(5 * 5)
    assert kendall_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)


@pytest.mark.parametrize("fn", [pearson, spearman, kendall_tau_b])
def test_undefined_correlations_are_none(fn):
    assert fn([1.0], [2.0]) is None
    assert fn([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]) is None
    with pytest.raises(ValueError, match="same length"):
        fn([1.0, 2.0], [1.0])


def test_strength_uses_only_pairs_that_have_one():
    out = strength_diagnostics([3.0, 1.0, 2.0, 9.0], [1.0, None, 0.5, None])
    assert out == {"strength_pairs": 2, "strength_spearman": pytest.approx(1.0), "strength_kendall": pytest.approx(1.0)}
    assert margin_diagnostics(MarginPoints([1.0, 2.0], None, [None, None])) == {}


def pair(strength=None, subset=None):
    return PreferencePair([{"role": "user", "content": "q"}], "a", "b", subset=subset, strength=strength)


def test_metrics_keep_existing_keys_and_add_diagnostics():
    pairs = [pair(1.0), pair(2 / 3), pair(None), pair(2 / 3)]
    scores = PairScores(
        index=torch.tensor([0, 1, 2, 3]),
        chosen=torch.tensor([3.0, 1.0, 0.0, 2.0]),
        rejected=torch.tensor([0.0, 0.5, 1.0, 0.0]),
        implicit_chosen=torch.tensor([1.0, 1.0, 1.0, 1.0]),
        implicit_rejected=torch.tensor([0.0, 0.5, 0.8, 0.2]),
    )
    similarity = {0: 0.2, 1: 0.9, 2: 0.5, 3: 0.4}
    m = metrics_from_scores(scores, pairs, similarity)
    margins = [3.0, 0.5, -1.0, 2.0]
    assert m["accuracy"] == 0.75 and m["margin_max"] == 3.0 and m["implicit_accuracy"] == 1.0
    assert m["margin_similarity_pearson"] == pytest.approx(pearson(margins, [0.2, 0.9, 0.5, 0.4]))
    assert m["strength_pairs"] == 3
    assert m["strength_spearman"] == pytest.approx(spearman([3.0, 0.5, 2.0], [1.0, 2 / 3, 2 / 3]))
    assert m["strength_kendall"] == pytest.approx(kendall_tau_b([3.0, 0.5, 2.0], [1.0, 2 / 3, 2 / 3]))
    implicit = [1.0, 0.5, 0.2, 0.8]
    assert m["implicit"]["strength_spearman"] == pytest.approx(spearman([1.0, 0.5, 0.8], [1.0, 2 / 3, 2 / 3]))
    assert m["implicit"]["margin_similarity_pearson"] == pytest.approx(pearson(implicit, [0.2, 0.9, 0.5, 0.4]))
    table = markdown_table({"model": {"set": m}})
    assert "r(margin, s)" in table and f"{m['margin_similarity_pearson']:.3f}" in table
    plain = metrics_from_scores(scores, [pair(), pair(), pair(), pair()])  # no similarity, no strength
    assert "margin_similarity_pearson" not in plain and "strength_pairs" not in plain


def test_points_follow_the_scores_order():
    scores = PairScores(index=torch.tensor([2, 0]), chosen=torch.tensor([1.0, 2.0]), rejected=torch.tensor([0.0, 0.0]))
    points = points_from_scores(scores, [pair(0.1), pair(), pair(0.3)], {0: 0.5, 2: 0.7})  # pair 1 unscored
    assert points == MarginPoints([1.0, 2.0], [0.7, 0.5], [0.3, 0.1])
    with pytest.raises(ValueError, match="implicit"):
        points_from_scores(scores, [pair()] * 3, implicit=True)


def test_plot_writes_a_png(tmp_path):
    points = {
        "bt / set": MarginPoints([3.0, 0.5, -1.0, 2.0], [0.2, 0.9, 0.5, 0.4]),
        "pcrm / set": MarginPoints([1.0, 0.2, -0.1, 0.8], [0.2, 0.9, 0.5, 0.4]),
    }
    out = plot_margin_vs_similarity(points, tmp_path / "plots" / "margins.png", bound=BoundParams(10, 0.001, -5))
    data = out.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_margin_vs_similarity({"x": MarginPoints([1.0])}, tmp_path / "none.png")


def test_eval_cli_reports_diagnostics_and_plots(tiny_rm_dir, tmp_path, capsys):
    rows = [
        {
            "prompt": f"q{i}",
            "chosen": "yes" * (1 + i % 3),
            "rejected": "no" * (1 + i % 4),
            "chosen_score": 5 + i % 3,
            "rejected_score": 4,
        }
        for i in range(8)
    ]
    data = tmp_path / "scored.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    png, out = tmp_path / "m.png", tmp_path / "report"
    assert (
        cli(["eval", "--model", str(tiny_rm_dir), "--data", str(data), "--plot", str(png), "--output", str(out)]) == 0
    )
    report = json.loads((out / "eval.json").read_text())
    metrics = next(iter(report[str(tiny_rm_dir)].values()))
    assert metrics["prior"] == "length" and metrics["strength_pairs"] == 8
    for key in (
        "margin_mean",
        "margin_std",
        "margin_max",
        "margin_similarity_pearson",
        "strength_spearman",
        "strength_kendall",
    ):
        assert key in metrics
    assert png.stat().st_size > 1000
    assert "strength rho" in capsys.readouterr().out
