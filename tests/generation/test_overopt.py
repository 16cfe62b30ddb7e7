"""`rewardkit overopt` end to end on tiny models: cached samples, every reward scored once, the exact best-of-N
curves equal to direct computation, groups, RL runs, the report files and the final line."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml

from rewardkit.cli.main import main
from rewardkit.evaluation.evaluate import load_scorer
from rewardkit.generation.overopt import load_rl_run, model_specs, rl_curve
from rewardkit.rewards.gold import GoldReward
from rewardkit.testing.tiny import export_tiny_reward_model


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("overopt")
    rms = {
        "bt": export_tiny_reward_model(tiny_model_dir, root / "bt" / "export", seed=1, top_layer_noise=0.05),
        "dpo": export_tiny_reward_model(
            tiny_model_dir, root / "dpo" / "export", seed=2, top_layer_noise=0.05, policy=True, reward_head=False
        ),
    }
    reward = root / "alarm.yaml"
    reward.write_text(
        yaml.safe_dump(
            {
                "name": "tiny-alarm",
                "combine": "hierarchical",
                "threshold": 0.0,
                "holistic_weight": 1.0,
                "holistic": {"kind": "model", "path": str(rms["bt"]), "normalize": True},
                "aspects": [{"kind": "metric", "metric": "length", "weight": -0.5, "normalize": True}],
            }
        )
    )
    rl = root / "rl-run"
    rl.mkdir()
    records = [
        {"step": s, "kl": kl, "kl_se": 0.01, "score": g, "score_se": 0.02}
        for s, kl, g in [(0, 0.0, 0.30), (2, 0.25, 0.36), (4, 1.0, 0.40), (6, 2.25, 0.41), (8, 4.0, 0.38)]
    ]
    (rl / "rl.json").write_text(json.dumps({"tracking": {"score": "gold", "records": records}}))
    return root, rms, reward, rl


def run(tiny_model_dir, setup, out, cache, capsys):
    root, rms, reward, rl = setup
    code = main(
        [
            "overopt",
            "--models",
            str(rms["bt"]),
            str(rms["dpo"]),
            "--rewards",
            str(reward),
            "--combine-modes",
            "hierarchical",
            "aspects",
            "--policy",
            str(tiny_model_dir),
            "--families",
            "arithmetic",
            "factual",
            "--n-per-family",
            "3",
            "--n-max",
            "4",
            "--max-new-tokens",
            "6",
            "--cache-dir",
            str(cache),
            "--groups",
            "{arith: [arithmetic], fact: [factual], none: [language]}",
            "--bootstrap",
            "50",
            "--batch-size",
            "4",
            "--rl-runs",
            str(rl),
            "--output-dir",
            str(out),
        ]
    )
    assert code == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_overopt_end_to_end(tiny_model_dir, setup, tmp_path, capsys):
    root, rms, reward, rl = setup
    line = run(tiny_model_dir, setup, tmp_path / "out", tmp_path / "cache", capsys)
    assert re.fullmatch(r"overopt rewards=4 n_max=4 prompts=6 seconds=\d+ output=.*", line), line
    report = json.loads((tmp_path / "out" / "overopt.json").read_text())
    assert report["rewards"] == ["bt", "dpo", "tiny-alarm/hierarchical", "tiny-alarm/aspects"]
    assert set(report["curves"]) == {"all", "arith", "fact"}  # the empty group is left out
    assert report["timings"]["shared_trunks"] == 1  # both checkpoints read one trunk cache
    rows = [json.loads(x) for x in (tmp_path / "out" / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(len(r["responses"]) == 4 for r in rows)
    prompts = [r["prompt"] for r in rows for _ in range(4)]
    responses = [x for r in rows for x in r["responses"]]
    gold = GoldReward().score(prompts, responses, [r["meta"] for r in rows for _ in range(4)])
    assert np.allclose([g for r in rows for g in r["gold"]], gold)
    plain = load_scorer(str(rms["bt"])).score(prompts, responses)["rewards"].double().numpy()
    bt = np.array([r["scores"]["bt"] for r in rows])
    assert np.allclose(bt.ravel(), plain, atol=1e-4)  # through the shared trunk = the plain scorer
    curve = report["curves"]["all"]["bt"]
    assert curve["n"] == [1, 2, 4] and curve["d"][0] == 0.0
    golds = np.array([r["gold"] for r in rows])
    assert curve["gold"][0] == pytest.approx(golds.mean())
    assert curve["gold"][-1] == pytest.approx(golds[np.arange(6), bt.argmax(axis=1)].mean())  # N = n: the argmax
    assert curve["proxy"][-1] == pytest.approx(bt.max(axis=1).mean())
    assert report["curves"]["arith"]["bt"]["prompts"] == 3
    assert "gold" in curve["fits"] and "proxy" in curve["fits"]
    fit = report["rl"]["rl-run"]["fit"]
    assert fit["form"] == "rl" and fit["status"] in ("peak", "rising", "falling")
    md = (tmp_path / "out" / "overopt.md").read_text()
    assert "| bt |" in md and "RL runs" in md and "![over-optimisation curves](overopt.png)" in md
    assert (tmp_path / "out" / "overopt.png").read_bytes()[:4] == b"\x89PNG"
    # the same prompts and seed reuse the samples: one generation cache file, the same responses
    run(tiny_model_dir, setup, tmp_path / "again", tmp_path / "cache", capsys)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1
    again = [json.loads(x) for x in (tmp_path / "again" / "scores.jsonl").read_text().splitlines()]
    assert [r["responses"] for r in again] == [r["responses"] for r in rows]


def test_rl_curves_and_missing_series(setup, tmp_path):
    *_, rl = setup
    curve = rl_curve(load_rl_run(rl))
    assert curve["d"] == [0.0, 0.5, 1.0, 1.5, 2.0] and curve["gold_gain"][0] == 0.0
    assert curve["fit"]["points"] == 4
    (tmp_path / "rl.json").write_text(json.dumps({"tracking": None}))
    with pytest.raises(FileNotFoundError, match="--track-every"):
        load_rl_run(tmp_path)


def test_model_names():
    assert model_specs(["runs/bt/export", "runs/haf", "x=runs/haf/export"]) == {
        "bt": "runs/bt/export",
        "haf": "runs/haf",
        "x": "runs/haf/export",
    }
    with pytest.raises(ValueError, match="two checkpoints named"):
        model_specs(["a/export", "a"])


def test_nothing_to_measure_is_an_error(capsys):
    assert main(["overopt"]) == 2
    assert "nothing to measure" in capsys.readouterr().err
