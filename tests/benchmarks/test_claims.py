"""The evidence claims: verdict rules, paired statistics and the --claims lines, on hand-made records."""

import json

import numpy as np
import pytest
from methodbench import claims
from methodbench.claims import EncodingMismatch, Hypothesis, check_all, claim_lines, verdict
from methodbench.presets import ENCODING, LEGACY_ENCODING


def test_verdict_rules():
    assert verdict(0.05, 0.02, +1) == "confirmed"
    assert verdict(-0.05, 0.02, +1) == "contradicted"
    assert verdict(0.03, 0.02, +1) == "undetectable"  # within 1.96 SE
    assert verdict(-0.05, 0.02, -1) == "confirmed"  # a claimed decrease
    # non-inferiority with a 0.02 margin: diff - 1.96 SE must stay above -0.02
    assert verdict(0.0, 0.005, 0) == "confirmed"
    assert verdict(-0.06, 0.01, 0) == "contradicted"
    assert verdict(-0.01, 0.02, 0) == "undetectable"


def test_per_seed_statistics_by_hand():
    a = np.array([[0.1, 0.4, 0.3, 0.9], [1.0, 1.0, 1.0, -0.5]])
    b = np.array([[-1.0, -1.0, 1.0, 0.5], [1.0, -1.0, -1.0, -0.5]])
    info = {"strength": np.array([1.0, 2.0, 3.0, 4.0]), "similarity": np.array([1.0, 1.0, 0.5, 0.5])}
    assert claims.per_seed("accuracy", a, b, info, {}).tolist() == [0.5, 0.5]
    # Spearman of (0.1, 0.4, 0.3, 0.9) with (1, 2, 3, 4): ranks (1, 3, 2, 4), sum d^2 = 2: 1 - 6 * 2 / 60 = 0.8
    rho = claims.spearman_rows(a, info["strength"])
    assert rho[0] == pytest.approx(0.8)
    tight = {"b1": 1.0, "b2": 0.0, "b3": 0.0}  # delta*/2 = 0.5 at s = 1, 1 at s = 0.5
    # seed 0: no margin of a or b past its pair's delta*/2; seed 1: a 2 of 4, b 1 of 4
    assert claims.per_seed("share", a, b, info, tight).tolist() == [0.0, 0.25]
    spread = claims.per_seed("spread", a, b, info, {})
    assert spread[0] == pytest.approx(a[0].std() / b[0].std() - 1)


def write_fake_records(root, *, diff, encoding=ENCODING):
    """Scenario suite-a and suite-b with arms bt and haf, 3 seeds, 200 ood pairs: haf right on `diff` more
    (encoding None: files without the field, as before it existed)."""
    mark = {} if encoding is None else {"encoding": encoding}
    rng = np.random.default_rng(1)
    for sc in ("suite-a", "suite-b"):
        n = 200
        (root / sc).mkdir(parents=True)
        items = [{"hash": str(i), "chosen_longer": bool(i % 2), "strength": None, "similarity": 0.5} for i in range(n)]
        (root / sc / "test_sets.json").write_text(json.dumps({**mark, "sets": {"id": items, "ood": items}}))
        for seed in (0, 1, 2):
            for arm, shift in (("bt", 0.0), ("haf", diff)):
                margins = [round(float(x), 4) for x in (rng.random(n) < 0.6 + shift) * 2.0 - 1.0]
                record = {
                    **mark,
                    "scenario": sc,
                    "arm": arm,
                    "seed": seed,
                    "margins": {"final": {"step": 10, "id": margins, "ood": margins}},
                }
                (root / sc / f"{arm}-s{seed}.json").write_text(json.dumps(record))


def test_claims_on_records_and_pending_lines(tmp_path):
    write_fake_records(tmp_path, diff=0.15)
    hyps = (
        Hypothesis("haf-bt", "p", "q", "-", ("suite-a", "suite-b"), "ood", "haf", "bt"),
        Hypothesis("grm-bt", "p", "q", "-", ("suite-a", "suite-b"), "ood", "grm", "bt"),
    )
    results = check_all(tmp_path, hyps)
    done, pending = results
    assert done["diff"] == pytest.approx(0.15, abs=0.06) and done["verdict"] == "confirmed"
    assert done["mde"] == pytest.approx(2.8 * done["se"]) and done["seeds"] == 3 and done["pairs"] == 400
    assert "suite-a/grm/s0" in pending["pending"]
    lines = claim_lines(results)
    assert lines[0].startswith("claim haf-bt diff=") and lines[0].endswith("verdict=confirmed")
    assert lines[1].startswith("claim grm-bt pending missing=6")
    assert lines[-1] == "claims n=1 confirmed=1 contradicted=0 undetectable=0"
    again = check_all(tmp_path, hyps)[0]
    assert again["se"] == done["se"]  # the bootstrap is seeded: the same records print the same line


def test_no_effect_is_undetectable_not_contradicted(tmp_path):
    write_fake_records(tmp_path, diff=0.0)
    hyp = Hypothesis("haf-bt", "p", "q", "-", ("suite-a", "suite-b"), "ood", "haf", "bt")
    result = check_all(tmp_path, (hyp,))[0]
    assert result["verdict"] == "undetectable" and abs(result["diff"]) < result["mde"]


def test_records_of_two_encodings_are_never_pooled(tmp_path):
    hyp = Hypothesis("haf-bt", "p", "q", "-", ("suite-a", "suite-b"), "ood", "haf", "bt")
    write_fake_records(tmp_path / "old", diff=0.15, encoding=None)  # written before records named their encoding
    assert check_all(tmp_path / "old", (hyp,), encoding=LEGACY_ENCODING)[0]["verdict"] == "confirmed"
    with pytest.raises(EncodingMismatch, match=f"suite-a/test_sets.json .* {LEGACY_ENCODING}, not {ENCODING}"):
        check_all(tmp_path / "old", (hyp,))  # read as the current encoding: refused, not pooled
    write_fake_records(tmp_path / "new", diff=0.15)
    stray = json.loads((tmp_path / "old" / "suite-b" / "haf-s2.json").read_text())
    (tmp_path / "new" / "suite-b" / "haf-s2.json").write_text(json.dumps(stray))  # an old record among new ones
    with pytest.raises(EncodingMismatch, match="suite-b/haf-s2.json"):
        check_all(tmp_path / "new", (hyp,))


def test_every_hypothesis_names_recorded_arms_and_sets():
    from methodbench.evidence import SCENARIOS

    ids = [h.id for h in claims.HYPOTHESES]
    assert len(ids) == len(set(ids)) >= 8
    for h in claims.HYPOTHESES:
        for sc in h.scenarios:
            assert {h.a, h.b} <= set(SCENARIOS[sc].arms), h.id
        assert h.statistic in claims.STATISTIC_TEXT and h.direction in (-1, 0, 1)
