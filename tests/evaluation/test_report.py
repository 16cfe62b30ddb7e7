"""Multi-checkpoint suite reports: tables, PNG charts, JSON; the CLI; trained checkpoints (validation-selected,
training overlap removed, cached reference); the benchmark's docs sections."""

import dataclasses
import json
import math
import os
import sys
from pathlib import Path

import pytest

from rewardkit.cli.main import main as cli
from rewardkit.evaluation.evaluate import evaluate_set, load_scorer
from rewardkit.evaluation.report import Stat, accuracy_table, render_markdown, suite_results, write_suite_report
from rewardkit.evaluation.suites import (
    STANDARD,
    EvalSetConfig,
    SuiteConfig,
    checkpoint_training_pairs,
    evaluate_suite,
    load_suite,
)
from rewardkit.files import write_json_atomic
from rewardkit.testing.tiny import arithmetic_rows, write_jsonl

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_sets(shared_data):
    return load_suite(STANDARD, shared_data, limit=5, only=["llmbar-natural", "llmbar-adversarial", "tldr"])


def test_report_renders_for_two_tiny_checkpoints(tiny_rm_dir, tiny_haf_dir, small_sets, tmp_path):
    evaluations = {}
    for name, path in (("chat", tiny_rm_dir), ("plain", tiny_haf_dir)):
        scorer = load_scorer(str(path), max_length=64)
        evaluations[name] = evaluate_suite(scorer, small_sets, batch_size=4)
    adversarial = evaluations["chat"]["metrics"]["llmbar-adversarial"]
    assert adversarial["pairs"] == 5 and 0.0 <= adversarial["section_score"] <= 1.0
    assert "llmbar" in evaluations["chat"]["sections"] and len(evaluations["plain"]["margins"]["tldr"]) == 5

    results = suite_results(evaluations, small_sets, suite="standard", data_root="/data")
    md = write_suite_report(results, tmp_path / "report", title="two tiny models")
    for png in ("accuracy.png", "reliability.png", "margins.png"):
        file = tmp_path / "report" / png
        assert file.exists() and file.stat().st_size > 1000 and file.read_bytes()[:4] == b"\x89PNG"
    text = md.read_text()
    assert text.startswith("# two tiny models")
    for needle in (
        "| chat |",
        "| plain |",
        "llmbar (section)",
        "## Calibration",
        "## Length bias",
        "## Reward scale",
        "## Eval data",
        "![accuracy](accuracy.png)",
        "llmbar-adver-neighbor",
    ):
        assert needle in text, needle
    again = json.loads((tmp_path / "report" / "report.json").read_text())
    assert render_markdown(again) == render_markdown(results)  # the JSON alone regenerates the report


def _evaluation(accuracies: dict[str, float], margin_std: float = 1.0) -> dict:
    return {
        "metrics": {s: {"accuracy": a, "margin_std": margin_std} for s, a in accuracies.items()},
        "sections": {},
        "margins": {s: [1.0, -0.5] for s in accuracies},
    }


def test_groups_show_mean_and_sd_over_seeds():
    results = {
        "suite": "t",
        "data_root": "/d",
        "sets": {
            s: {"pairs": 2, "available": 2, "dropped": {}, "overlap_removed": 0, "subset_sizes": {}} for s in ("a", "b")
        },
        "models": {"bt/s0": _evaluation({"a": 0.6, "b": 0.8}), "bt/s1": _evaluation({"a": 0.7, "b": 0.8})},
        "groups": {"bt": ["bt/s0", "bt/s1"]},
    }
    row = accuracy_table(results)["bt"]
    assert row["a"].mean == pytest.approx(0.65) and row["a"].sd == pytest.approx(math.sqrt(0.005))
    assert row["mean"].values == pytest.approx((0.7, 0.75))  # macro mean per seed
    assert row["b"].format() == "0.800 ± 0.000" and Stat((0.5,)).format() == "0.500"
    assert "| bt | 0.650 ± 0.071 | 0.800 ± 0.000 | 0.725 ± 0.035 |" in render_markdown(results)


def test_cli_suite_writes_the_report(tiny_rm_dir, tiny_haf_dir, shared_data, tmp_path, capsys):
    out = tmp_path / "suite"
    assert (
        cli(
            [
                "eval",
                "--suite",
                "standard",
                "--data-root",
                str(shared_data),
                "--sets",
                "llmbar-natural",
                "--limit",
                "4",
                "--max-length",
                "64",
                "--model",
                str(tiny_rm_dir),
                str(tiny_haf_dir),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert "## " not in capsys.readouterr().out.split("### Accuracy")[0]
    report = json.loads((out / "report.json").read_text())
    assert list(report["models"]) == [str(tiny_rm_dir), str(tiny_haf_dir)]
    assert report["sets"]["llmbar-natural"]["pairs"] == 4 and (out / "margins.png").stat().st_size > 0
    with pytest.raises(SystemExit, match="either --data or --suite"):
        cli(["eval", "--model", str(tiny_rm_dir)])


def test_a_base_model_is_refused_naming_what_was_looked_for(tiny_model_dir, shared_data, capsys):
    """No random head ever scores: a directory without a trained reward head is an error."""
    assert cli(["eval", "--model", str(tiny_model_dir), "--data", "suite", "--limit", "2"]) == 2
    err = capsys.readouterr().err
    assert "has no trained reward head" in err and "rewardkit.json" in err and "value_head.safetensors" in err


@pytest.fixture(scope="module")
def haf_export(tiny_model_dir, tmp_path_factory):
    """A tiny HaF model trained with a validation split and checkpoint selection."""
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.objective import ObjectiveConfig
    from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
    from rewardkit.training.run import run_training

    root = tmp_path_factory.mktemp("haf")
    rows = arithmetic_rows(48)
    train = write_jsonl(root / "train.jsonl", rows[:32])
    mixed = write_jsonl(root / "mixed.jsonl", rows[:8] + rows[32:])  # 8 training pairs + 16 unseen ones
    cfg = RunConfig(
        model=ModelConfig(name=str(tiny_model_dir), tuning="top_layers", top_layers=1),
        data=DataConfig(train=[str(train)], heldout_fraction=0.0, validation_fraction=0.25, max_length=48),
        objective=ObjectiveConfig(objective="haf"),
        training=TrainConfig(
            output_dir=str(root / "run"),
            num_epochs=2,
            batch_size=8,
            learning_rate=3e-3,
            eval_steps=2,
            select_best=True,
            report_to=[],
            eval_before=False,
        ),
    )
    return run_training(cfg), mixed


def test_trained_checkpoint_overlap_and_cached_reference(haf_export):
    summary, mixed = haf_export
    selected = summary["selected"]
    assert Path(selected["checkpoint"]).name == f"checkpoint-{selected['step']}"
    assert 0.0 <= selected["validation_accuracy"] <= 1.0

    export = summary["export"]
    train = checkpoint_training_pairs([export])  # from rewardkit.json's train_entries
    assert len(train) == 32
    suite = SuiteConfig("mixed", [EvalSetConfig("mixed", [str(mixed)])])
    sets = load_suite(suite, mixed.parent, exclude=train)
    assert sets["mixed"].overlap_removed == 8 and len(sets["mixed"].pairs) == 16

    scorer = load_scorer(export)
    direct, _ = evaluate_set(scorer, sets["mixed"].pairs, prior=None)  # reference model forward every batch
    cached = evaluate_suite(scorer, sets, prior=None)["metrics"]["mixed"]  # reference log-probs from the cache
    assert cached["implicit_accuracy"] == pytest.approx(direct["implicit_accuracy"])
    assert cached["implicit"]["margin_mean"] == pytest.approx(direct["implicit"]["margin_mean"], abs=1e-4)
    assert cached["accuracy"] == pytest.approx(direct["accuracy"])
    assert scorer.reference is not None and type(scorer.reference).__name__ == "FrozenModelReference"


def _benchmark_module():
    """The method benchmark's package (benchmarks/methodbench), its modules' names in one namespace."""
    import types

    if str(REPO / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO / "benchmarks"))
    from methodbench import costs, presets, report, runner

    namespace = types.SimpleNamespace()
    for module in (presets, costs, runner, report):
        namespace.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    return namespace


def test_benchmark_sections_replace_only_their_markers():
    methods = _benchmark_module()
    doc = (
        "# R\n\nintro\n\n" + methods.begin_marker("quick") + "\nold\n" + methods.end_marker("quick") + "\n\n## Other\n"
    )
    new = methods.replace_section(doc, "quick", "## quick\nnew body")
    assert "old" not in new and "new body" in new and new.startswith("# R\n\nintro") and new.endswith("## Other\n")
    added = methods.replace_section(new, "hh1k", "hh1k body")
    assert added.index("## Other") < added.index("hh1k body") and "new body" in added
    assert methods.replace_section(added, "quick", "## quick\nnew body") == added  # idempotent


def test_benchmark_claims_and_best_line():
    methods = _benchmark_module()
    sets = {
        s: {"pairs": 400, "available": 400, "dropped": {}, "overlap_removed": 0, "subset_sizes": {}}
        for s in ("hh-helpful", "hh-harmless")
    }
    models = {}
    for seed in (0, 1):
        models[f"bt/s{seed}"] = _evaluation({"hh-helpful": 0.62, "hh-harmless": 0.60}, margin_std=2.0)
        models[f"dpo/s{seed}"] = _evaluation({"hh-helpful": 0.62, "hh-harmless": 0.45}, margin_std=0.1)
        models[f"pcrm-length/s{seed}"] = _evaluation({"hh-helpful": 0.63, "hh-harmless": 0.61}, margin_std=1.0)
    report = {
        "suite": "standard",
        "data_root": "/d",
        "sets": sets,
        "models": models,
        "groups": {m: [f"{m}/s0", f"{m}/s1"] for m in ("bt", "dpo", "pcrm-length")},
    }
    claims = {c["claim"]: c for c in methods.claim_checks(report, ["hh-helpful"], seeds=2)}
    dpo_ood = claims["BT is above DPO out of distribution (HaF-RM Table 3)"]
    assert dpo_ood["verdict"] == "supported" and dpo_ood["difference"] == pytest.approx(0.15)
    assert claims["pcrm-length constrains reward scale (margin std below BT's)"]["ratio"] == pytest.approx(0.5)
    assert claims["pcrm-length improves accuracy over BT"]["verdict"].startswith("inconclusive")
    assert not any(c.startswith("HaF") for c in claims)  # no HaF runs, no HaF claims
    summary = methods.summarize(report, ["bt", "dpo", "pcrm-length"])
    assert (
        methods.best_line("quick", summary)
        == "methods quick best=pcrm-length hh-helpful=0.630 hh-harmless=0.610 mean=0.620"
    )


def test_benchmark_knows_which_one_off_passes_are_cached(tmp_path, monkeypatch):
    methods = _benchmark_module()
    monkeypatch.setenv("REWARDKIT_HOME", str(tmp_path))
    assert methods.used_cache_files("reference", since=0) == []  # no cache directory yet
    cache = tmp_path / "reference_logps"
    cache.mkdir()
    for name, mtime in (
        ("old.safetensors", 1_000),
        ("train.safetensors", 5_000),
        ("eval.safetensors", 6_000),
        (".eval.safetensors.x.tmp", 6_000),
    ):
        (cache / name).write_bytes(b"x")
        os.utime(cache / name, (mtime, mtime))
    used = methods.used_cache_files("reference", since=5_000)
    assert used == ["eval.safetensors", "train.safetensors"]  # used since the run started; no temporaries
    record = {"method": "dpo", "caches": {"reference": used}}
    assert methods.cache_present(record, "reference") and not methods.cache_present(record, "embeddings")
    assert not methods.cache_present({"method": "bt"}, "reference")  # BT runs (and older records) say nothing
    assert methods.caches_needed("bt") == [] and methods.caches_needed("haf-pcrm") == ["reference"]
    assert methods.caches_needed("pcrm-cosine") == ["embeddings"]
    (cache / "eval.safetensors").unlink()
    assert not methods.cache_present(record, "reference")  # one pass missing: it would run again


def test_every_benchmark_preset_resolves_its_data(shared_data):
    methods = _benchmark_module()
    for preset in methods.PRESETS.values():
        for entry in preset.train_entries(shared_data):
            assert Path(entry["path"]).is_file(), f"preset {preset.name}: {entry['path']} missing"
        unknown = set(preset.eval_limits) - set(STANDARD.names)
        assert not unknown, f"preset {preset.name}: eval sets {unknown} not in the standard suite"
        assert set(preset.in_distribution) <= set(preset.eval_limits), preset.name
    assert sorted(methods.PRESET_ORDER) == sorted(methods.PRESETS)  # each preset ordered exactly once


def test_benchmark_run_records_resume_from_the_shared_directory(tmp_path):
    methods = _benchmark_module()
    quick = methods.PRESETS["quick"]
    assert methods.PRESETS["standard"].shared_records and methods.PRESETS["gpu"].shared_records
    shared = dataclasses.replace(quick, shared_records=True)
    assert methods.run_fingerprint(shared, "bt", 0) == methods.run_fingerprint(quick, "bt", 0)  # not a setting
    runs, records = tmp_path / "runs", tmp_path / "records"
    assert methods.find_record(quick, "bt", 0, runs, records) is None
    good = {"method": "bt", "seed": 0, "fingerprint": methods.run_fingerprint(quick, "bt", 0), "from": "elsewhere"}
    write_json_atomic(records / "bt-s0.json", good)
    record, path = methods.find_record(quick, "bt", 0, runs, records)
    assert record["from"] == "elsewhere" and path == records / "bt-s0.json"
    assert methods.find_record(quick, "bt", 0, runs, None) is None  # records dir not consulted
    assert methods.find_record(quick, "bt", 1, runs, records) is None  # other seed, other fingerprint
    other = dataclasses.replace(quick, budget=dataclasses.replace(quick.budget, learning_rate=3e-4))
    assert methods.find_record(other, "bt", 0, runs, records) is None  # settings changed: retrain
    write_json_atomic(runs / "bt-s0" / "benchmark_run.json", {**good, "from": "here"})
    assert methods.find_record(quick, "bt", 0, runs, records)[0]["from"] == "here"  # own run dir first
    assert not list(records.glob(".*tmp*"))  # atomic writes leave no temporaries


def test_benchmark_time_limit_prediction_and_partial_groups():
    methods = _benchmark_module()
    est = {
        "cached_per_run_seconds": {"bt": 100.0, "dpo": 300.0, "pcrm-cosine": 110.0},
        "trunk_once_seconds": 1000.0,
        "reference_once_seconds": 50.0,
        "embeddings_once_seconds": 20.0,
        "per_run_seconds": {"bt": {"train": 400.0, "eval": 20.0}},
    }
    predict = methods.predicted_run_seconds
    assert predict(est, "bt", trunk_done=False) == 1100.0  # BT needs no reference
    assert predict(est, "dpo", trunk_done=True, done={"embeddings": True}) == 350.0
    assert predict(est, "dpo", trunk_done=True, done={"reference": True}) == 300.0
    assert predict(est, "pcrm-cosine", trunk_done=True, done={"reference": True}) == 130.0  # embeds once
    assert predict(est, "pcrm-cosine", trunk_done=True, done={"embeddings": True}) == 110.0
    uncached = {**est, "cached_per_run_seconds": None}
    assert predict(uncached, "bt", trunk_done=False) == 420.0  # no trunk cache: no trunk pass
    sets = {
        s: {"pairs": 400, "available": 400, "dropped": {}, "overlap_removed": 0, "subset_sizes": {}}
        for s in ("hh-helpful", "hh-harmless")
    }
    models = {
        "bt/s0": _evaluation({"hh-helpful": 0.6, "hh-harmless": 0.5}),
        "bt/s1": _evaluation({"hh-helpful": 0.7, "hh-harmless": 0.5}),
        "dpo/s0": _evaluation({"hh-helpful": 0.55, "hh-harmless": 0.45}),
    }
    report = {
        "suite": "standard",
        "data_root": "/d",
        "sets": sets,
        "models": models,
        "groups": {"bt": ["bt/s0", "bt/s1"], "dpo": ["dpo/s0"]},
    }  # dpo/s1 pending
    assert methods.seeds_per_method(report) == 1
    assert methods.summarize(report, ["bt", "dpo"]) == {
        "bt": {"hh-helpful": 0.65, "hh-harmless": 0.5, "mean": 0.575},
        "dpo": {"hh-helpful": 0.55, "hh-harmless": 0.45, "mean": 0.5},
    }
    claims = {c["claim"]: c for c in methods.claim_checks(report, ["hh-helpful"], methods.seeds_per_method(report))}
    dpo_ood = claims["BT is above DPO out of distribution (HaF-RM Table 3)"]
    assert dpo_ood["difference"] == pytest.approx(0.05)
