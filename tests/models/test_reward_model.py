"""RewardModel: reward at the EOS, no vocabulary logits for rewards, tuning modes, reference modes."""

import copy
import os

import pytest
import torch

from rewardkit.data.collate import PaddedPairCollator
from rewardkit.data.encoding import PairEncoder
from rewardkit.data.record import PreferencePair
from rewardkit.models.loading import build_reward_model, load_tokenizer
from rewardkit.models.reference import compute_reference_logps, make_reference, precompute_reference_logps
from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.objective import Objective, ObjectiveConfig

PAIRS = [
    PreferencePair([{"role": "user", "content": "Say hi"}], "Hi there!", "No."),
    PreferencePair([{"role": "user", "content": "2+2?"}], "4", "It is certainly five, trust me."),
    PreferencePair([{"role": "user", "content": "Capital of France?"}], "Paris.", "Berlin."),
]


def batch_for(model_dir, pairs=PAIRS):
    tok = load_tokenizer(str(model_dir))
    encoded = PairEncoder(tok).encode_all(pairs)
    return tok, encoded, PaddedPairCollator(tok.pad_token_id)(encoded)


def test_reward_is_read_at_the_eos_and_ignores_padding(tiny_model_dir):
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full")).eval()
    tok, encoded, batch = batch_for(tiny_model_dir)
    with torch.no_grad():
        rewards = model(**batch)["rewards"]
        # each sequence alone, unpadded: same reward as in the padded batch
        for i, e in enumerate(encoded):
            for j, resp in enumerate((e.chosen_ids, e.rejected_ids)):
                ids = torch.tensor([e.prompt_ids + resp])
                h = model.hidden_states(ids, torch.ones_like(ids))
                alone = model.score(h[0, -1]).item()
                assert rewards[j * len(encoded) + i].item() == pytest.approx(alone, abs=1e-5)


def test_rewards_do_not_compute_vocabulary_logits(tiny_model_dir):
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    calls = []
    model.lm_head.register_forward_hook(lambda *a: calls.append(a[1][0].shape))
    _, _, batch = batch_for(tiny_model_dir)
    model(**batch, need_rewards=True, need_logps=False)
    assert calls == []
    model(**batch, need_rewards=False, need_logps=True)
    n_response = batch["logp_targets"].numel()
    assert sum(s[0] for s in calls) == n_response  # the LM head saw response positions only


def test_sequence_logps_match_full_logits(tiny_plain_model_dir):
    model = build_reward_model(ModelConfig(name=str(tiny_plain_model_dir), tuning="full")).eval()
    _, encoded, batch = batch_for(tiny_plain_model_dir)
    with torch.no_grad():
        logps = model(**batch, need_rewards=False, need_logps=True)["logps"]
        full = model.lm_head(model.hidden_states(batch["input_ids"], batch["attention_mask"])).log_softmax(-1)
    ids = batch["input_ids"]
    for row in range(ids.shape[0]):
        e = encoded[row % len(encoded)]
        resp = e.chosen_ids if row < len(encoded) else e.rejected_ids
        start = len(e.prompt_ids)
        expected = sum(full[row, start + k - 1, tok].item() for k, tok in enumerate(resp))
        assert logps[row].item() == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("tuning,expect", [("full", "all"), ("lora", "adapters"), ("top_layers", "top")])
def test_tuning_modes_choose_trainable_parameters(tiny_plain_model_dir, tuning, expect):
    model = build_reward_model(
        ModelConfig(name=str(tiny_plain_model_dir), tuning=tuning, top_layers=1), train_lm_head=True
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "score.weight" in trainable
    if expect == "all":
        assert all(p.requires_grad for p in model.parameters())
    elif expect == "adapters":
        assert any("lora_A" in n for n in trainable)
        assert not any("layers.0.self_attn.q_proj.base_layer" in n for n in trainable)
        assert "lm_head.weight" in trainable  # untied LM head trains with the policy loss
    else:
        assert any("layers.1." in n for n in trainable) and not any("layers.0." in n for n in trainable)
        assert "backbone.norm.weight" in trainable


def test_head_init_zero_and_normal(tiny_model_dir):
    zero = build_reward_model(ModelConfig(name=str(tiny_model_dir), head_init="zero"))
    assert zero.score.weight.abs().sum().item() == 0
    normal = build_reward_model(ModelConfig(name=str(tiny_model_dir), head_init="normal"))
    assert normal.score.weight.std().item() > 0


def haf_loss(model, batch, reference):
    obj = Objective(ObjectiveConfig(objective="haf", alpha=0.2))
    out = model(**batch, need_rewards=True, need_logps=True)
    return obj(out["rewards"], out["logps"], reference.logps(model, batch), batch).loss


def test_three_reference_modes_give_the_same_loss(tiny_model_dir, tmp_path):
    torch.manual_seed(0)
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="lora"), train_lm_head=True)
    tok, encoded, _ = batch_for(tiny_model_dir)
    collate = PaddedPairCollator(tok.pad_token_id)
    precompute_reference_logps(
        model, encoded, collate, model_name=str(tiny_model_dir), dtype="float32", cache_dir=tmp_path
    )
    batch = collate(encoded)
    references = {m: make_reference(m, model) for m in ("precomputed", "adapter", "copy")}
    # move the policy away from the reference: train one step's worth of LoRA weights by hand
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.05)
    model.eval()
    losses = {m: haf_loss(model, batch, ref).item() for m, ref in references.items()}
    assert losses["precomputed"] == pytest.approx(losses["adapter"], abs=1e-5)
    assert losses["precomputed"] == pytest.approx(losses["copy"], abs=1e-5)
    # the policy moved, so the reference is not simply the policy itself
    own = compute_reference_logps(model, encoded, collate, batch_size=8, progress=False)
    assert not torch.allclose(own[0], torch.tensor([e.extras["ref_chosen_logps"] for e in encoded]))


def test_reference_cache_is_reused(tiny_model_dir, tmp_path):
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    tok, encoded, _ = batch_for(tiny_model_dir)
    collate = PaddedPairCollator(tok.pad_token_id)
    key = precompute_reference_logps(
        model, encoded, collate, model_name=str(tiny_model_dir), dtype="float32", cache_dir=tmp_path
    )
    cached = tmp_path / f"{key}.safetensors"
    assert cached.exists()
    os.utime(cached, (1_000_000, 1_000_000))  # long ago
    stored = [e.extras["ref_chosen_logps"] for e in encoded]
    second = copy.deepcopy(encoded)
    for e in second:
        e.extras.clear()
    calls = []
    key2 = precompute_reference_logps(
        model,
        second,
        collate,
        model_name=str(tiny_model_dir),
        dtype="float32",
        cache_dir=tmp_path,
        compute=lambda pairs: calls.append(1),
    )
    assert key2 == key and calls == []  # served from disk, no pass
    assert cached.stat().st_mtime > 1_000_000  # reuse marks the file as used now
    assert [e.extras["ref_chosen_logps"] for e in second] == stored
    other = PairEncoder(tok).encode_all(PAIRS[:2])
    assert (
        precompute_reference_logps(
            model, other, collate, model_name=str(tiny_model_dir), dtype="float32", cache_dir=tmp_path
        )
        != key
    )  # different data, different key


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_lm_head_gets_gradient_only_when_alpha_positive(tiny_plain_model_dir, alpha):
    obj = Objective(ObjectiveConfig(objective="haf", alpha=alpha))
    model = build_reward_model(
        ModelConfig(name=str(tiny_plain_model_dir), tuning="full"), train_lm_head=obj.needs_logps
    )
    _, encoded, batch = batch_for(tiny_plain_model_dir)
    ref = torch.zeros(2 * len(encoded))
    out = model(**batch, need_rewards=True, need_logps=obj.needs_logps)
    obj(out["rewards"], out.get("logps"), ref if obj.needs_logps else None, batch).loss.backward()
    grad = model.lm_head.weight.grad
    if alpha == 0:
        assert grad is None
    else:
        assert grad is not None and grad.abs().sum() > 0
    assert model.score.weight.grad.abs().sum() > 0
