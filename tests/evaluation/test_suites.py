"""Eval-suite registry: the standard suite resolves from the real data root; sampling, overlap removal,
user suites from YAML, and clear errors."""

import json
from collections import Counter

import pytest

from rewardkit.data.loading import load_pairs
from rewardkit.data.record import DataError
from rewardkit.evaluation.suites import (
    STANDARD,
    SUITES,
    EvalSet,
    EvalSetConfig,
    SuiteConfig,
    get_suite,
    load_suite,
    load_suite_config,
    resolve_data_root,
    section_scores,
    stratified_sample,
)

ADVERSARIAL_SIZES = {
    "llmbar-adver-GPTInst": 92,
    "llmbar-adver-GPTOut": 47,
    "llmbar-adver-manual": 46,
    "llmbar-adver-neighbor": 134,
}


@pytest.fixture(scope="module")
def standard_sets(shared_data):
    return load_suite("standard", shared_data)


def test_every_standard_set_resolves_from_the_data_root(standard_sets):
    assert list(standard_sets) == [
        "hh-helpful",
        "hh-harmless",
        "llmbar-natural",
        "llmbar-adversarial",
        "pandalm",
        "ultrafeedback",
        "tldr",
    ]
    sizes = {name: len(s.pairs) for name, s in standard_sets.items()}
    assert sizes == {
        "hh-helpful": 2348,
        "hh-harmless": 2308,
        "llmbar-natural": 100,
        "llmbar-adversarial": 319,
        "pandalm": 842,
        "ultrafeedback": 199,
        "tldr": 1776,
    }
    assert standard_sets["llmbar-adversarial"].subset_sizes == ADVERSARIAL_SIZES
    assert standard_sets["llmbar-natural"].subset_sizes == {"llmbar-natural": 100}
    assert standard_sets["tldr"].subset_sizes == {"tldr-valid1": 386, "tldr-valid2": 1390}
    pandalm = standard_sets["pandalm"]
    assert pandalm.dropped["annotator majority says tie"] == 105  # ties dropped, with a count
    assert pandalm.summary()["dropped"] == pandalm.dropped and pandalm.loaded == 842
    assert all(s.overlap_removed == 0 for s in standard_sets.values())


def test_limits_draw_stratified_deterministic_samples(shared_data, standard_sets):
    sets = load_suite(
        STANDARD, shared_data, limit={"llmbar-adversarial": 32, "tldr": 40}, only=["llmbar-adversarial", "tldr"]
    )
    adversarial = sets["llmbar-adversarial"]
    assert Counter(p.subset for p in adversarial.pairs) == {
        "llmbar-adver-neighbor": 13,
        "llmbar-adver-GPTInst": 9,
        "llmbar-adver-GPTOut": 5,
        "llmbar-adver-manual": 5,
    }
    assert adversarial.subset_sizes == ADVERSARIAL_SIZES  # section weights stay the full sizes
    assert Counter(p.subset for p in sets["tldr"].pairs) == {"tldr-valid1": 9, "tldr-valid2": 31}
    again = load_suite(STANDARD, shared_data, limit=32, only=["llmbar-adversarial"])["llmbar-adversarial"]
    assert [p.content_hash() for p in again.pairs] == [p.content_hash() for p in adversarial.pairs]
    full = standard_sets["llmbar-adversarial"].pairs
    order = {p.content_hash(): i for i, p in enumerate(full)}
    positions = [order[p.content_hash()] for p in adversarial.pairs]
    assert positions == sorted(positions)  # file order kept
    other_seed = stratified_sample(full, 32, seed=1)
    assert {p.content_hash() for p in other_seed} != {p.content_hash() for p in adversarial.pairs}
    smaller = {p.content_hash() for p in stratified_sample(full, 16, seed=0)}
    assert smaller <= {p.content_hash() for p in adversarial.pairs}  # nested samples for these sizes


def test_training_pairs_are_removed_by_content_hash(shared_data):
    train = load_pairs(str(shared_data / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"))[:7]
    sets = load_suite(STANDARD, shared_data, only=["hh-helpful", "llmbar-natural"], exclude=train, limit=50)
    helpful = sets["hh-helpful"]
    assert helpful.overlap_removed == 7 and helpful.available == 2348 - 7 and len(helpful.pairs) == 50
    assert not {p.content_hash() for p in train} & {p.content_hash() for p in helpful.pairs}
    assert sets["llmbar-natural"].overlap_removed == 0


def test_section_scores_pool_subsets_weighted_by_full_size():
    def fake(name, sizes, section):
        return EvalSet(EvalSetConfig(name, ["x.json"], section=section), [], sum(sizes.values()), subset_sizes=sizes)

    sets = {
        "nat": fake("nat", {"natural": 100}, "llmbar"),
        "adv": fake("adv", {"a": 200, "b": 100}, "llmbar"),
        "hh": fake("hh", {"(none)": 500}, None),
    }
    metrics = {
        "nat": {"accuracy": 0.8, "subsets": {"natural": {"accuracy": 0.8}}},
        "adv": {"accuracy": 0.9, "subsets": {"a": {"accuracy": 0.3}, "b": {"accuracy": 0.6}}},
        "hh": {"accuracy": 0.6},
    }
    assert section_scores(metrics, sets) == {"llmbar": pytest.approx((0.8 * 100 + 0.3 * 200 + 0.6 * 100) / 400)}


def test_user_suite_from_yaml_extends_the_standard_suite(tmp_path, shared_data):
    own = tmp_path / "mine.jsonl"
    own.write_text(
        "\n".join(json.dumps({"prompt": f"q{i}", "chosen": "good", "rejected": f"bad {i}"}) for i in range(5))
    )
    config = tmp_path / "my_suite.yaml"
    config.write_text(
        f"name: mine\nextends: standard\nseed: 3\nsets:\n"
        f"  - name: own\n    path: {own}\n    limit: 3\n"
        f"  - name: hh-helpful\n    paths: [hh-rlhf/helpful-base/test.jsonl.gz]\n    limit: 10\n"
    )
    suite = get_suite(str(config))
    assert suite.name == "mine" and suite.seed == 3
    assert suite.names == [
        "hh-harmless",
        "llmbar-natural",
        "llmbar-adversarial",
        "pandalm",
        "ultrafeedback",
        "tldr",
        "own",
        "hh-helpful",
    ]
    sets = load_suite(suite, shared_data, only=["own", "hh-helpful"])
    assert len(sets["own"].pairs) == 3 and len(sets["hh-helpful"].pairs) == 10
    assert "mine" not in SUITES  # a file suite is not registered implicitly


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("sets:\n  - name: a\n    path: x.json\n    colour: red\n", "unknown keys \\['colour'\\]"),
        ("sets:\n  - name: a\n    path: x.json\n    format: csvish\n", "unknown format 'csvish'"),
        ("sets:\n  - name: a\n    path: x.json\n    limit: 0\n", "field .limit.: must be a positive int"),
        ("sets:\n  - name: a\n", "needs a name and a path"),
        ("sets:\n  - name: a\n    path: x.json\n  - name: a\n    path: y.json\n", "duplicate set names \\['a'\\]"),
        ("extends: nope\nsets: []\n", "extends unknown suite 'nope'"),
    ],
)
def test_bad_suite_configs_name_the_problem(tmp_path, yaml_text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    with pytest.raises(DataError, match=message) as info:
        load_suite_config(config)
    assert str(config) in str(info.value)


def test_missing_files_roots_and_names_are_clear(tmp_path, shared_data, monkeypatch):
    suite = SuiteConfig("t", [EvalSetConfig("gone", ["no/such/file.jsonl"])])
    with pytest.raises(DataError, match="eval set 'gone'.*not found"):
        load_suite(suite, shared_data)
    with pytest.raises(KeyError, match="no set 'nope'"):
        load_suite(STANDARD, shared_data, only=["nope"])
    with pytest.raises(DataError, match="unknown suite 'nope'"):
        get_suite("nope")
    with pytest.raises(DataError, match="is not a directory.*--data-root"):
        resolve_data_root(tmp_path / "missing")
    monkeypatch.setenv("REWARDKIT_DATA", str(shared_data))
    assert resolve_data_root() == shared_data.resolve()
