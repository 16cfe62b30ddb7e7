"""The evidence preset: its data (length balance, no train/test overlap), arms (one scope, zero head init,
tight bounds, ablations with the same mean delta*), and one run end to end on the tiny model."""

import dataclasses
import json

import pytest
from methodbench import evidence, evidence_runner
from methodbench.evidence import SCENARIOS, Scenario, Scope, arm_objective, build_data, length_balanced
from methodbench.presets import ENCODING, LEGACY_ENCODING


def test_suite_rotation_is_length_balanced_and_disjoint(shared_data):
    small = dataclasses.replace(
        SCENARIOS["suite-a"],
        data={**SCENARIOS["suite-a"].data, "per_family": 20, "id_per_family": 10, "ood_per_family": 10},
    )
    data = build_data(small, shared_data)
    families = {p.subset for p in data.train}
    assert families == set(evidence.SUITE_F1) and len(data.train) == 80
    assert {p.subset for p in data.tests["ood"]} == set(evidence.SUITE_F2)
    train_prompts = {json.dumps(p.prompt) for p in data.train}
    for name, pairs in data.tests.items():
        assert not train_prompts & {json.dumps(p.prompt) for p in pairs}, name
        longer = sum(len(p.chosen) > len(p.rejected) for p in pairs)
        assert longer * 2 == len(pairs), name  # the chosen response is the longer one in exactly half
    assert build_data(small, shared_data).tests["ood"] == data.tests["ood"]  # deterministic


def test_length_balanced_takes_equal_halves():
    from rewardkit.data.record import PreferencePair

    pairs = [PreferencePair([{"role": "user", "content": str(i)}], "a" * (1 + i % 3), "bb") for i in range(30)]
    picked = length_balanced(pairs, 8, "seed")
    assert len(picked) == 8 and sum(len(p.chosen) > len(p.rejected) for p in picked) == 4
    assert all(len(p.chosen) != len(p.rejected) for p in picked)


def test_arms_share_the_scope_and_the_ablations_match_the_mean_bound():
    for name, sc in SCENARIOS.items():
        assert len(sc.seeds) >= 3, name
        inits = {arm: arm_objective(arm, {"reward": 2.0, "policy": 1.0})[1] for arm in sc.arms}
        assert {a for a, init in inits.items() if init != "zero"} <= {"bt-normal"}, name
    fixed, _ = arm_objective("pcrm-fixed", {"reward": 2.0, "policy": 1.0})
    random_, _ = arm_objective("pcrm-random", {"reward": 2.0, "policy": 1.0})
    assert fixed["fixed_delta"] == 2.0 and sum(random_["random_delta_range"]) / 2 == 2.0
    tracked, _ = arm_objective("bt-tracked", None)
    assert tracked["prior_lambda"] == 0.0 and tracked["b1"] == evidence.TIGHT_REWARD["b1"]
    assert arm_objective("pcrm-dpo", None)[0]["b1"] == evidence.TIGHT_POLICY["b1"]
    with pytest.raises(ValueError, match="mean"):
        arm_objective("pcrm-fixed", None)


@pytest.mark.parametrize("arm", ["haf", "pcrm-dpo"])
def test_one_run_end_to_end_on_the_tiny_model(arm, tiny_model_dir, shared_data, tmp_path):
    scenario = Scenario(
        "tiny",
        "tiny",
        data={
            "kind": "suite",
            "train": ("arithmetic",),
            "test": ("factual",),
            "per_family": 24,
            "id_per_family": 6,
            "ood_per_family": 6,
        },
        arms=(arm,),
        scope=Scope(
            top_layers=1,
            max_length=96,
            batch_size=8,
            epochs=2,
            validation_fraction=0.25,
            per_epoch=True,
            learning_rate=1e-3,
        ),
        seeds=(0,),
    )
    data = build_data(scenario, shared_data)
    model = str(tiny_model_dir)
    manifest = evidence_runner.write_manifest(scenario, data, tmp_path / "records", model)
    assert manifest["train_pairs"] == 18 and manifest["validation_pairs"] == 6
    objective, head_init = arm_objective(arm, manifest["mean_delta"])
    fingerprint = evidence_runner.run_fingerprint(scenario, arm, 0, objective, head_init, model)
    record = evidence_runner.train_arm(
        scenario, arm, 0, data, manifest, tmp_path / "runs", tmp_path / "records", model, fingerprint
    )
    assert record["encoding"] == manifest["encoding"] == ENCODING  # where the reward was read, in every file
    assert [round(t["epoch"]) for t in record["test"]] == [1, 2]  # scored after every epoch
    assert set(record["test"][-1]["sets"]) == {"id", "ood"}
    final = record["margins"]["final"]
    assert len(final["ood"]) == len(data.tests["ood"]) and all(m is not None for m in final["ood"])
    assert record["margins"]["best"]["step"] in {t["step"] for t in record["test"]}
    logged = [e for e in record["log"] if "loss" in e and e["step"] > 1]  # (Trainer also logs the first step)
    key = "bound_reached_policy" if arm == "pcrm-dpo" else "accuracy"
    assert len(logged) == 2 and all(key in e for e in logged)  # one training-log entry per epoch
    path = evidence_runner.record_path(tmp_path / "records", "tiny", arm, 0)
    assert evidence_runner.find_record(path, fingerprint)["arm"] == arm
    assert evidence_runner.find_record(path, "other") is None  # other settings: not reused


def test_time_limit_prediction_counts_the_one_off_passes_not_done(tmp_path):
    from methodbench.costs import evidence_passes, predicted_evidence_seconds

    assert evidence_passes("bt") == ["trunk"] and evidence_passes("grm") == ["trunk"]  # GRM needs no reference
    assert evidence_passes("haf") == ["trunk", "reference"]
    assert evidence_passes("pcrm-dpo") == ["trunk", "reference", "test-reference"]
    est = {
        "scenarios": {
            "s": {
                "runs": {"bt": {"train": 60.0, "test": 10.0}, "dpo": {"train": 200.0, "test": 20.0}},
                "once": {"trunk": 100.0, "reference": 30.0, "test-reference": 5.0},
            }
        }
    }
    assert predicted_evidence_seconds(est, "s", "bt", tmp_path) == 170.0  # nothing cached on this machine yet
    evidence_runner.mark_done(tmp_path, "s", "bt")
    assert predicted_evidence_seconds(est, "s", "bt", tmp_path) == 70.0
    assert predicted_evidence_seconds(est, "s", "dpo", tmp_path) == 255.0  # its references are still to compute
    evidence_runner.mark_done(tmp_path, "s", "dpo-tracked")
    assert predicted_evidence_seconds(est, "s", "dpo", tmp_path) == 220.0
    assert predicted_evidence_seconds(est, "s", "dpo", None) == 220.0


def test_records_of_the_old_encoding_are_kept_apart_and_never_reused(monkeypatch):
    """The first sitting read the reward at an EOS appended to the bare response; rewardkit now reads it at the last
    token of the chat-template render. Its records stay readable as what they are, and no run of the current
    encoding can reuse them (the encoding is in every fingerprint)."""
    from methodbench import claims, presets, runner

    from rewardkit.data.encoding import EncodingConfig

    assert EncodingConfig().reward_position == ENCODING  # what run_training encodes with
    presets.check_encoding()
    manifests, records = claims.load_records(evidence.LEGACY_RECORDS, LEGACY_ENCODING)
    assert len(records) == 10 and set(manifests) == {"suite-a", "suite-b"}
    with pytest.raises(claims.EncodingMismatch):
        claims.load_records(evidence.LEGACY_RECORDS)  # read as the current encoding: refused, never pooled
    for (scenario, arm, seed), record in records.items():
        objective, head_init = arm_objective(arm, manifests[scenario].get("mean_delta"))
        current = evidence_runner.run_fingerprint(SCENARIOS[scenario], arm, seed, objective, head_init, record["model"])
        assert current != record["fingerprint"]
    assert not list(evidence.EVIDENCE_RECORDS.glob("*/*.json")) or all(
        presets.encoding_of(json.loads(f.read_text())) == ENCODING for f in evidence.EVIDENCE_RECORDS.glob("*/*.json")
    )
    settings = runner.run_fingerprint(presets.PRESETS["standard"], "bt", 0)
    monkeypatch.setattr(runner, "ENCODING", LEGACY_ENCODING)
    assert runner.run_fingerprint(presets.PRESETS["standard"], "bt", 0) != settings  # the standard presets too
