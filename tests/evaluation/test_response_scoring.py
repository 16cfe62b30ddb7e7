"""Scoring sampled responses: pseudo-pairs give the plain scorer's rewards, and checkpoints that share a base
model's frozen trunk compute it once for all of them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardkit.evaluation.evaluate import load_scorer
from rewardkit.evaluation.response_scoring import SharedTrunks, response_pairs, score_responses
from rewardkit.models import trunk_cache as tc
from rewardkit.models.loading import build_reward_model
from rewardkit.models.reward_model import ModelConfig
from rewardkit.testing.tiny import export_tiny_reward_model

PROMPTS = [[{"role": "user", "content": "What is 2+2?"}]] * 3 + [[{"role": "user", "content": "Name a colour."}]] * 2
RESPONSES = ["4", "Four, I think.", "4", "Blue.", "Red is a colour, and so is green."]


@pytest.fixture(scope="module")
def checkpoints(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("shared-trunk")
    return {
        "a": export_tiny_reward_model(tiny_model_dir, root / "a", seed=1, top_layer_noise=0.05),
        "b": export_tiny_reward_model(tiny_model_dir, root / "b", seed=2, top_layer_noise=0.05),
        "dpo": export_tiny_reward_model(
            tiny_model_dir, root / "dpo", seed=3, top_layer_noise=0.05, policy=True, reward_head=False
        ),
    }


def test_pseudo_pairs_pair_consecutive_responses_to_the_same_prompt(checkpoints):
    pairs, slots = response_pairs(load_scorer(str(checkpoints["a"])), PROMPTS, RESPONSES)
    assert slots == [(0, 1), (2, 2), (3, 4)]  # the third answer to the first prompt is paired with itself
    assert pairs[1].chosen_ids == pairs[1].rejected_ids


@pytest.mark.parametrize("name", ["a", "dpo"])
def test_scores_equal_the_plain_scorer_with_and_without_the_trunk(checkpoints, name, tmp_path, monkeypatch):
    monkeypatch.setenv("REWARDKIT_HOME", str(tmp_path))  # a fresh reference log-prob cache
    scorer = load_scorer(str(checkpoints[name]))
    plain = scorer.score(PROMPTS, RESPONSES)
    expected = (plain["rewards"] if "rewards" in plain else plain["implicit"]).double().numpy()
    direct = score_responses(scorer, PROMPTS, RESPONSES, batch_size=2)
    cache = SharedTrunks().cache_for(scorer)
    assert cache is not None and cache.depth == 1  # the tiny model has 2 layers; the top one was changed
    through_trunk = score_responses(scorer, PROMPTS, RESPONSES, trunk_cache=cache, batch_size=2)
    assert np.allclose(direct, expected, atol=1e-5) and np.allclose(through_trunk, expected, atol=1e-4)
    assert np.ptp(expected) > 0


def test_checkpoints_of_one_base_compute_the_trunk_once(checkpoints, monkeypatch):
    computed = []
    real = tc.compute_trunk_states

    def counting(model, pairs, depth, **kwargs):
        computed.append(len(pairs))
        return real(model, pairs, depth, **kwargs)

    monkeypatch.setattr(tc, "compute_trunk_states", counting)
    trunks = SharedTrunks()
    caches = []
    for name in ("a", "b"):
        scorer = load_scorer(str(checkpoints[name]))
        caches.append(trunks.cache_for(scorer))
        score_responses(scorer, PROMPTS, RESPONSES, trunk_cache=caches[-1], batch_size=2)
    assert caches[0] is caches[1] and len(trunks.caches) == 1
    assert computed == [3]  # three pseudo-pairs, once, for both checkpoints


def test_a_checkpoint_of_another_base_gets_no_trunk(checkpoints, tiny_plain_model_dir, caplog):
    scorer = load_scorer(str(checkpoints["a"]))
    scorer.metadata = dict(scorer.metadata, base_model=str(tiny_plain_model_dir))  # other embeddings
    with caplog.at_level("INFO", logger="rewardkit.evaluation"):
        assert SharedTrunks().cache_for(scorer) is None
    assert "shares no frozen layers" in caplog.text
    scorer.metadata.pop("base_model")
    assert SharedTrunks().cache_for(scorer) is None


def test_layer_fingerprints_find_the_shared_depth(tiny_model_dir, checkpoints):
    base = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"), keep_lm_head=False)
    trained = build_reward_model(ModelConfig(name=str(checkpoints["a"]), tuning="full"), keep_lm_head=False)
    fb, ft = tc.layer_fingerprints(base), tc.layer_fingerprints(trained)
    assert len(fb) == 3 and tc.shared_trunk_depth(fb, fb) == 2 and tc.shared_trunk_depth(ft, fb) == 1
    with torch.no_grad():
        trained.base_backbone.embed_tokens.weight.add_(1e-3)
    assert tc.shared_trunk_depth(tc.layer_fingerprints(trained), fb) == 0
