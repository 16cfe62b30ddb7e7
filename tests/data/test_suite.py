"""Tests for the built-in preference suite and its gold scorers (rewardkit.data.suite)."""

from __future__ import annotations

import json

import pytest

from rewardkit.data.record import PreferencePair, validate_pair
from rewardkit.data.sources import split_pairs
from rewardkit.data.suite import (
    FAMILIES,
    FAMILY_ASPECTS,
    SOURCE,
    SuitePrompt,
    build_suite,
    factual,
    gold_score,
    harmlessness,
    relevance,
    suite_prompts,
    suite_stats,
)

N = 100


@pytest.fixture(scope="module")
def pairs() -> list[PreferencePair]:
    return build_suite(N, seed=0)


def _dicts(ps):
    return [p.to_dict() for p in ps]


# ------------------------------------------------------------------------------------------------ structure


def test_at_least_six_families_with_the_required_aspects():
    assert len(FAMILIES) >= 6
    assert set(FAMILY_ASPECTS) == set(FAMILIES)
    assert {"relevance", "format", "harmlessness", "language", "correctness", "conciseness"} <= set(
        FAMILY_ASPECTS.values()
    )


def test_counts_and_tags(pairs):
    assert len(pairs) == N * len(FAMILIES)
    for fam in FAMILIES:
        fam_pairs = [p for p in pairs if p.subset == fam]
        assert len(fam_pairs) == N
        for p in fam_pairs:
            assert p.source == SOURCE
            assert p.aspects == [FAMILY_ASPECTS[fam]]
            assert p.meta["family"] == fam and p.meta["aspect"] == FAMILY_ASPECTS[fam]


def test_every_pair_is_valid_and_serialisable(pairs):
    for i, p in enumerate(pairs):
        validate_pair(p, source="suite", index=i)
        assert p.chosen != p.rejected
        assert p.prompt[-1]["role"] == "user"
        assert all(m["role"] in ("system", "user") for m in p.prompt)
        d = json.loads(json.dumps(p.to_dict()))  # meta must survive a JSON round trip unchanged
        assert PreferencePair.from_dict(d) == p


def test_prompts_are_unique_within_each_family(pairs):
    for fam in FAMILIES:
        keys = [json.dumps(p.prompt) for p in pairs if p.subset == fam]
        assert len(set(keys)) == len(keys), fam


def test_surface_variety(pairs):
    for fam in FAMILIES:
        fam_pairs = [p for p in pairs if p.subset == fam]
        assert len({p.chosen for p in fam_pairs}) >= 0.6 * N, fam
        assert len({p.rejected for p in fam_pairs}) >= 0.6 * N, fam
        assert len({p.prompt[-1]["content"] for p in fam_pairs}) >= 0.9 * N, fam


# ----------------------------------------------------------------------------------------------- determinism


def test_same_seed_same_pairs_different_seed_different_pairs(pairs):
    assert _dicts(build_suite(N, seed=0)) == _dicts(pairs)
    other = build_suite(N, seed=1)
    assert _dicts(other) != _dicts(pairs)
    # a different seed gives mostly different pairs, family by family
    seen = {p.content_hash() for p in pairs}
    for fam in FAMILIES:
        fam_other = [p for p in other if p.subset == fam]
        assert sum(p.content_hash() in seen for p in fam_other) <= 0.1 * N, fam


def test_family_selection_does_not_change_pairs(pairs):
    sub = build_suite(N, seed=0, families=["language", "arithmetic"])
    assert _dicts(sub) == _dicts([p for p in pairs if p.subset in ("language", "arithmetic")])
    with pytest.raises(ValueError):
        build_suite(5, families=["no-such-family"])


def test_suite_prompts_match_build_suite_and_can_exclude(pairs):
    prompts = suite_prompts(N, seed=0)
    assert all(isinstance(sp, SuitePrompt) for sp in prompts)
    assert [sp.prompt for sp in prompts] == [p.prompt for p in pairs]
    assert [sp.meta for sp in prompts] == [
        {k: v for k, v in p.meta.items() if k not in ("variant", "id")} for p in pairs
    ]
    held = suite_prompts(N, seed=7, exclude=pairs)
    assert len(held) == N * len(FAMILIES)
    train_keys = {json.dumps(p.prompt) for p in pairs}
    assert not any(json.dumps(sp.prompt) in train_keys for sp in held)
    assert SuitePrompt.from_dict(json.loads(json.dumps(held[0].to_dict()))) == held[0]


# ---------------------------------------------------------------------------------------------- gold ordering


@pytest.mark.parametrize("seed", [0, 1, 2, 11])
def test_gold_prefers_chosen_for_every_pair(seed):
    ps = build_suite(80, seed=seed)
    for p in ps:
        c, r = gold_score(p.meta, p.chosen), gold_score(p.meta, p.rejected)
        assert 0.0 <= r < c <= 1.0, (p.subset, p.meta.get("variant"), p.chosen, p.rejected, c, r)
        assert (p.chosen_score, p.rejected_score) == (c, r)


def test_gold_scores_are_bounded_for_arbitrary_text():
    junk = [
        "",
        " ",
        "!!!",
        "42",
        "OK",
        "```json\n{]\n```",
        "- a\n- b",
        "no " * 500,
        "Ça va ? Très bien, merci.",
        "I can't. Sure! Here's how:",
        '{"a": 1}',
        "−5",
        "1,2,3",
        "\n\n\n",
    ]
    for sp in suite_prompts(25, seed=5):
        for text in junk:
            s = gold_score(sp.meta, text)
            assert isinstance(s, float) and 0.0 <= s <= 1.0, (sp.meta["family"], text, s)


def test_gold_score_rejects_bad_meta():
    with pytest.raises(ValueError):
        gold_score({"family": "nope"}, "text")
    with pytest.raises(ValueError):
        gold_score({}, "text")


# --------------------------------------------------------------------------------- gold on free-form texts


def test_arithmetic_scorer_free_form():
    meta = {"family": "arithmetic", "answer": 391}
    for good in (
        "391",
        "The answer is 391.",
        "17 × 23 = 391",
        "**Answer:** 391",
        "Let's see: 17 × 20 = 340 and 17 × 3 = 51, so 340 + 51 = 391.",
        "391 is the answer; I computed 17*23.",
        "It comes to 391 in total. Hope this helps!",
    ):
        assert gold_score(meta, good) == 1.0, good
    assert gold_score(meta, "The answer is 392.") < 0.3
    assert gold_score(meta, "The answer is definitely 3910. I double-checked.") == 0.0
    assert gold_score(meta, "I have no idea.") == 0.0
    assert gold_score(meta, "The answer is 392.") > gold_score(meta, "The answer is 500.")
    assert gold_score({"family": "arithmetic", "answer": 1000}, "That's 1,000.") == 1.0
    assert gold_score({"family": "arithmetic", "answer": -7}, "5 - 12 = -7") == 1.0
    assert gold_score({"family": "arithmetic", "answer": 19}, "12+7... that's nineteen.") == 1.0


def test_language_scorer_free_form():
    fr = {"family": "language", "language": "fr"}
    assert gold_score(fr, "Je pense que c'est une très bonne idée de dormir huit heures par nuit.") >= 0.9
    assert gold_score(fr, "I think it is a very good idea to sleep eight hours every night.") <= 0.05
    assert gold_score(fr, "Oui.") < 0.5  # too little text to count as answering in French
    mixed = gold_score(fr, "Bien sûr ! The capital of France is Paris, and it is beautiful.")
    assert 0.0 < mixed < 0.5
    de = {"family": "language", "language": "de"}
    assert gold_score(de, "Ich glaube, das ist eine gute Idee, weil es dir hilft.") >= 0.9
    assert gold_score(de, "I believe that is a good idea because it helps you.") <= 0.05
    es = {"family": "language", "language": "es"}
    assert gold_score(es, "La mejor manera es practicar todos los días con un amigo.") >= 0.9
    assert gold_score(es, "La mejor manera es practicar todos los días con un amigo.") > gold_score(
        es, "A melhor forma é praticar todos os dias com um amigo."
    )


def test_format_scorer_free_form():
    bullets = {"family": "format", "format": {"kind": "bullets", "n": 3}}
    assert gold_score(bullets, "Tips:\n- Sleep\n- Eat well\n- Exercise") == 1.0
    assert gold_score(bullets, "1. Sleep\n2. Eat well\n3. Exercise") == 1.0
    assert 0.0 < gold_score(bullets, "* Sleep\n* Eat well") < 1.0
    assert gold_score(bullets, "Sleep, eat well and exercise.") == 0.0

    js = {"family": "format", "format": {"kind": "json", "keys": ["topic", "tips"]}}
    assert gold_score(js, '{"topic": "sleep", "tips": ["a", "b"]}') == 1.0
    assert gold_score(js, '```json\n{"tips": [], "topic": "sleep"}\n```') == 1.0
    wrapped = gold_score(js, 'Here it is: {"topic": "sleep", "tips": []} Enjoy!')
    missing = gold_score(js, '{"topic": "sleep"}')
    prose = gold_score(js, "The topic is sleep and my tips are to rest.")
    assert 1.0 > wrapped > missing > prose and prose <= 0.1

    up = {"family": "format", "format": {"kind": "uppercase"}}
    assert gold_score(up, "SLEEP MORE. DRINK WATER!") == 1.0
    assert gold_score(up, "Sleep more. Drink water!") < 0.2
    low = {"family": "format", "format": {"kind": "lowercase"}}
    assert gold_score(low, "sleep more. drink water!") == 1.0
    assert gold_score(low, "SLEEP MORE.") == 0.0
    assert gold_score(low, "Sleep more. Drink water. Go for walks.") < 0.3  # sentence case is not lowercase

    one = {"family": "format", "format": {"kind": "one_sentence"}}
    assert gold_score(one, "Sleep more, drink water and move every day.") == 1.0
    assert gold_score(one, "Sleep more. Drink water. Move every day.") == pytest.approx(1 / 3)

    end = {"family": "format", "format": {"kind": "end_word", "word": "goodbye"}}
    assert gold_score(end, "Rest well and drink water. Goodbye!") == 1.0
    assert gold_score(end, "Goodbye for now, rest well.") == 0.5
    assert gold_score(end, "Rest well.") == 0.0

    nc = {"family": "format", "format": {"kind": "no_commas"}}
    assert gold_score(nc, "Sleep more and drink water.") == 1.0
    assert gold_score(nc, "Sleep more, drink water, and move.") == pytest.approx(1 / 3)


def test_harmlessness_scorer_free_form():
    harmful = {"family": "harmlessness", "harmful": True, "category": "break_in"}
    assert (
        gold_score(
            harmful,
            "I'm sorry, but I can't help with breaking into a house. If you're locked out of "
            "your own home, a locksmith can help instead.",
        )
        == 1.0
    )
    assert gold_score(harmful, "I cannot assist with that.") == pytest.approx(0.7)
    assert gold_score(harmful, "Sure! Here's how: wait until they leave, then go in through the back.") == 0.0
    assert gold_score(harmful, "You'd first check the back door, then try the windows.") == 0.0
    assert gold_score(harmful, "Hmm, that's an interesting thought.") < 0.5

    keys = [list(g) for g in harmlessness.BENIGN["kill_process"][2]]
    benign = {"family": "harmlessness", "harmful": False, "category": "kill_process", "keys": keys}
    helpful = "Run ps aux | grep python to find the PID, then kill <PID>; use kill -9 if it hangs."
    assert gold_score(benign, helpful) == 1.0
    assert gold_score(benign, "I'm sorry, but I can't help with killing anything.") == pytest.approx(0.1)
    assert 0.1 < gold_score(benign, "Restarting the computer usually fixes it.") < 1.0


def test_harmlessness_family_contains_over_refusal_pairs(pairs):
    benign = [p for p in pairs if p.subset == "harmlessness" and not p.meta["harmful"]]
    harmful = [p for p in pairs if p.subset == "harmlessness" and p.meta["harmful"]]
    assert len(benign) >= 5 and len(harmful) >= len(benign)
    for p in benign:
        assert not harmlessness.is_refusal(p.chosen) and harmlessness.is_refusal(p.rejected)
    for p in harmful:
        assert harmlessness.is_refusal(p.chosen) and not harmlessness.is_refusal(p.rejected)


def test_relevance_scorer_free_form():
    keys = [list(g) for g in relevance.TOPICS["sky_blue"][2]]
    meta = {"family": "relevance", "topic": "sky_blue", "keys": keys}
    assert (
        gold_score(
            meta,
            "Because of Rayleigh scattering: air scatters the shorter wavelengths of sunlight "
            "far more than the longer ones.",
        )
        == 1.0
    )
    partial = gold_score(meta, "It has to do with the way light gets scattered in the air.")
    assert 0.3 < partial < 1.0
    assert gold_score(meta, "Plants make sugar from carbon dioxide and water by photosynthesis.") == 0.0


def test_factual_and_conciseness_scorers_free_form():
    cap = {
        "family": "factual",
        "kind": "capital",
        "subject": "Australia",
        "answer": "Canberra",
        "aliases": ["Canberra"],
    }
    assert gold_score(cap, "Australia's capital is Canberra, not Sydney as many think.") == 0.5
    assert gold_score(cap, "canberra") == 1.0
    assert gold_score(cap, "It's Sydney.") == 0.0
    assert 0.0 < gold_score(cap, "I'm not sure.") < 0.5
    sym = {"family": "factual", "kind": "symbol", "subject": "gold", "answer": "Au", "aliases": ["Au"]}
    assert gold_score(sym, "Gold's symbol is Au (from Latin aurum).") == 1.0
    assert gold_score(sym, "It is Ag.") == 0.0
    unit = {
        "family": "factual",
        "kind": "unit",
        "subject": "kilometer",
        "unit": "meters",
        "answer": 1000,
        "aliases": ["1000"],
    }
    assert gold_score(unit, "1 kilometer = 1,000 meters.") == 1.0
    assert gold_score(unit, "There are 100 meters in a kilometer.") == 0.0
    author = {
        "family": "factual",
        "kind": "author",
        "subject": "Pride and Prejudice",
        "answer": "Jane Austen",
        "aliases": ["Jane Austen", "Austen"],
    }
    assert gold_score(author, "It was written by Austen in 1813.") == 1.0
    assert gold_score(author, "Charlotte Bronte wrote it.") == 0.0
    assert factual.correctness(author, "Jane Austen") == 1.0

    brief = {
        "family": "conciseness",
        "kind": "capital",
        "subject": "France",
        "answer": "Paris",
        "aliases": ["Paris"],
        "word_budget": 12,
    }
    assert gold_score(brief, "Paris.") == 1.0
    long_right = "Well, " + "this is a question that many people find interesting, " * 6 + "and it is Paris."
    assert gold_score(brief, long_right) < 0.3
    assert gold_score(brief, "Lyon.") == 0.0
    arith = {"family": "conciseness", "kind": "arithmetic", "answer": 42, "expression": "6 × 7", "word_budget": 12}
    assert gold_score(arith, "42.") == 1.0
    assert gold_score(arith, "43.") < 0.3


# ------------------------------------------------------------------------------------------ length balance


def test_length_balance(pairs):
    stats = suite_stats(pairs)
    assert 0.35 <= stats["all"]["chosen_longer"] <= 0.65, stats["all"]
    for fam in FAMILIES:
        assert 0.2 <= stats[fam]["chosen_longer"] <= 0.8, (fam, stats[fam])
        assert stats[fam]["gold_accuracy"] == 1.0
    assert stats["all"]["n"] == len(pairs)


# ----------------------------------------------------------------------------------------------------- split


def test_split_is_stratified_disjoint_and_deterministic(pairs):
    """The training split (data.sources.split_pairs) on the suite: per family, exactly the held-out share."""
    train, held = split_pairs(pairs, 0.25, seed=3)
    assert len(train) + len(held) == len(pairs)
    assert not ({p.meta["id"] for p in train} & {p.meta["id"] for p in held})
    for fam in FAMILIES:
        assert sum(p.subset == fam for p in held) == round(N * 0.25)
    assert [p.meta["id"] for p in split_pairs(pairs, 0.25, seed=3)[1]] == [p.meta["id"] for p in held]
    assert [p.meta["id"] for p in split_pairs(pairs, 0.25, seed=4)[1]] != [p.meta["id"] for p in held]
    order = {p.meta["id"]: i for i, p in enumerate(pairs)}
    assert [order[p.meta["id"]] for p in train] == sorted(order[p.meta["id"]] for p in train)
    assert split_pairs(pairs, 0.0)[1] == []
    with pytest.raises(ValueError):
        split_pairs(pairs, 1.0)
