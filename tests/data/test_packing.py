"""Shared-prefix packing: layout, mask, and the same rewards / log-probs / losses / gradients as padded rows."""

from __future__ import annotations

import copy

import pytest
import torch

from rewardkit.data.collate import PaddedPairCollator
from rewardkit.data.encoding import EncodedPair, EncodingConfig, PairEncoder
from rewardkit.data.loading import DataSpec, load_pairs
from rewardkit.data.packing import (
    CHOSEN,
    PAD_SEGMENT,
    PREFIX,
    REJECTED,
    PackedGroup,
    PackedPair,
    PackedPairCollator,
    PackedSequenceCollator,
    balanced_rows,
    block_mask,
    common_prefix_length,
    grouped_batches,
    prompt_groups,
    shared_prefix_length,
)
from rewardkit.data.record import DataError
from rewardkit.data.suite import build_suite
from rewardkit.evaluation.scoring import score_pairs
from rewardkit.models.loading import build_reward_model, load_tokenizer
from rewardkit.models.reference import compute_reference_logps
from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.objective import Objective, ObjectiveConfig

EOS = 9


def pair(prompt, chosen, rejected, index=0):
    return EncodedPair(list(prompt), list(chosen) + [EOS], list(rejected) + [EOS], index=index)


# ---- layout -----------------------------------------------------------------------------------------


def test_common_prefix_extends_into_the_responses():
    p = PackedPair.from_encoded(pair([1, 2, 3], [4, 5], [4, 6, 7]))
    assert common_prefix_length([1, 2], [1, 3]) == 1
    assert p.shared == 4  # prompt + the shared first response token
    assert p.tokens == [1, 2, 3, 4, 5, EOS, 6, 7, EOS]
    assert p.position_ids() == [0, 1, 2, 3, 4, 5, 4, 5, 6]
    assert p.segments() == [PREFIX] * 4 + [CHOSEN] * 2 + [REJECTED] * 3
    assert p.length == 9 == len(p.chosen) + len(p.rejected) - p.shared


def test_each_suffix_keeps_its_eos_when_one_sequence_prefixes_the_other():
    # chosen = [4, EOS]; rejected = [4, EOS, 5, EOS]: chosen is a prefix of rejected
    p = PackedPair.from_encoded(EncodedPair([1, 2], [4, EOS], [4, EOS, 5, EOS], index=0))
    assert p.shared == len(p.chosen) - 1  # the chosen suffix is its EOS alone
    assert p.tokens == [1, 2, 4, EOS, EOS, 5, EOS]
    assert p.rejected_offset(3) == 4 and p.chosen_offset(3) == 3


def test_batch_positions_point_at_the_right_hidden_states():
    features = [pair([1, 2], [3], [4, 5], index=7), pair([6], [7, 8], [7, 2], index=3)]
    batch = PackedPairCollator(pad_token_id=0, row_tokens=None)(features)
    ids = batch["input_ids"].reshape(-1)
    # rewards are read at each sequence's EOS: chosen 0..P-1, then rejected
    assert ids[batch["reward_positions"]].tolist() == [EOS] * 4
    # each response token is predicted by the hidden state of the token before it, in its own sequence
    seqs = [f.prompt_ids + f.chosen_ids for f in features] + [f.prompt_ids + f.rejected_ids for f in features]
    for s, seq in enumerate(seqs):
        plen = len(features[s % len(features)].prompt_ids)
        sel = batch["logp_seq"] == s
        assert batch["logp_targets"][sel].tolist() == seq[plen:]
        assert ids[batch["logp_positions"][sel]].tolist() == seq[plen - 1 : -1]
    # the first rejected-suffix token of pair 1 ([6, 7 | 8, EOS | 2, EOS]) is predicted by the shared "7"
    first_rejected = batch["logp_positions"][batch["logp_seq"] == 3][1]
    assert ids[first_rejected].item() == 7
    assert batch["pair_index"].tolist() == [7, 3]


def test_mask_lets_suffixes_see_the_prefix_and_themselves_only():
    p = PackedPair.from_encoded(pair([1, 2], [3], [4, 5]))  # prefix 2, chosen [3, EOS], rejected [4, 5, EOS]
    segs = torch.tensor(p.segments() + [PAD_SEGMENT])
    owners = torch.tensor([0] * p.length + [-1])
    m = block_mask(segs, owners)
    chosen, rejected = [2, 3], [4, 5, 6]
    assert m[1, :2].all() and not m[0, 1]  # causal prefix
    for q in rejected:
        assert m[q, :2].all() and not m[q, chosen].any()  # sees the prefix, never the chosen suffix
        assert m[q, rejected].tolist() == [k <= q for k in rejected]
    assert m[3, 2] and not m[2, 3]
    assert m[7].tolist() == [False] * 7 + [True]  # padding attends to itself only
    other = block_mask(torch.tensor([PREFIX, PREFIX]), torch.tensor([0, 1]))
    assert not other[1, 0]  # another pair in the same row is invisible


def test_balanced_rows_use_few_rows_and_little_padding():
    lengths = [900, 300, 250, 200, 200, 150, 100, 60]
    rows = balanced_rows(lengths, 1024)
    assert sorted(i for r in rows for i in r) == list(range(len(lengths)))
    loads = [sum(lengths[i] for i in r) for r in rows]
    assert max(loads) <= 1024 and len(rows) == 3
    assert max(loads) - min(loads) <= 300
    assert balanced_rows([2000, 10], 512) == [[0], [1]]  # a long pair gets its own row


def test_empty_prompt_is_a_clear_error():
    with pytest.raises(DataError, match="record 5.*prompt_ids"):
        PackedPairCollator(0)([EncodedPair([], [1, EOS], [2, EOS], index=5)])


# ---- same numbers as padded rows --------------------------------------------------------------------

OBJECTIVES = {
    "bt": ObjectiveConfig(objective="bt"),
    "haf": ObjectiveConfig(objective="haf", alpha=0.2),
    "dpo": ObjectiveConfig(objective="dpo"),
    "pcrm": ObjectiveConfig(objective="haf", prior="fixed", prior_on="both"),
}


def loss_and_grads(model, batch, objective):
    model.zero_grad()
    obj = Objective(objective)
    out = model(**batch, need_rewards=True, need_logps=True)
    ref = torch.cat([batch["ref_chosen_logps"], batch["ref_rejected_logps"]])
    result = obj(
        out["rewards"] if obj.needs_rewards else None,
        out["logps"] if obj.needs_logps else None,
        ref if obj.needs_logps else None,
        batch,
    )
    result.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out, result.loss.detach(), grads


def with_extras(encoded):
    out = copy.deepcopy(encoded)
    g = torch.Generator().manual_seed(0)
    for e in out:
        e.extras.update(
            {
                "ref_chosen_logps": -50 * torch.rand(1, generator=g).item(),
                "ref_rejected_logps": -50 * torch.rand(1, generator=g).item(),
                "delta_reward": 3.0,
                "delta_policy": 2.0,
            }
        )
    return out


def assert_same_numbers(model_dir, pairs, max_length, row_tokens=1024, attn="sdpa"):
    tok = load_tokenizer(str(model_dir))
    encoded = with_extras(PairEncoder(tok, EncodingConfig(max_length=max_length)).encode_all(pairs))
    torch.manual_seed(0)
    model = build_reward_model(
        ModelConfig(name=str(model_dir), tuning="full", attn_implementation=attn), train_lm_head=True, keep_lm_head=True
    )
    padded = PaddedPairCollator(tok.pad_token_id)(encoded)
    packed = PackedPairCollator(tok.pad_token_id, row_tokens=row_tokens)(encoded)
    assert packed["num_tokens"] < padded["num_tokens"] <= padded["input_ids"].numel()
    for name, objective in OBJECTIVES.items():
        out_a, loss_a, grads_a = loss_and_grads(model, padded, objective)
        out_b, loss_b, grads_b = loss_and_grads(model, packed, objective)
        torch.testing.assert_close(out_b["rewards"], out_a["rewards"], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out_b["logps"], out_a["logps"], atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(loss_b, loss_a, atol=1e-5, rtol=1e-5, msg=f"{name} loss")
        assert grads_a.keys() == grads_b.keys()
        for key in grads_a:
            torch.testing.assert_close(grads_b[key], grads_a[key], atol=1e-5, rtol=1e-4, msg=f"{name} {key}")
    return encoded, model, tok


def test_packed_equals_padded_on_real_hh_pairs(tiny_model_dir, shared_data):
    pairs = load_pairs(DataSpec(str(shared_data / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"), limit=4))
    assert_same_numbers(tiny_model_dir, pairs, max_length=320, row_tokens=600)


def test_packed_equals_padded_on_the_suite_with_eager_attention(tiny_plain_model_dir):
    pairs = build_suite(1, seed=0)  # a pair of every family
    assert_same_numbers(tiny_plain_model_dir, pairs, max_length=160, attn="eager")


def test_a_leaky_mask_would_change_the_rejected_rewards(tiny_model_dir):
    """The equality above is not vacuous: if the rejected suffix saw the chosen one, its reward would change."""
    tok = load_tokenizer(str(tiny_model_dir))
    encoded = PairEncoder(tok).encode_all(build_suite(1, seed=1))
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full")).eval()
    batch = PackedPairCollator(tok.pad_token_id, row_tokens=None)(encoded)
    causal = torch.ones_like(batch["attention_mask"]).tril()
    with torch.no_grad():
        good = model(**batch)["rewards"]
        leaky = model(**dict(batch, attention_mask=causal))["rewards"]
    assert (good[len(encoded) :] - leaky[len(encoded) :]).abs().min() > 1e-4


def test_reference_pass_and_scoring_accept_the_packed_collator(tiny_plain_model_dir):
    tok = load_tokenizer(str(tiny_plain_model_dir))
    encoded = PairEncoder(tok, EncodingConfig(max_length=128)).encode_all(build_suite(2, seed=3))
    model = build_reward_model(ModelConfig(name=str(tiny_plain_model_dir), tuning="full"))
    padded = compute_reference_logps(model, encoded, PaddedPairCollator(tok.pad_token_id), 5, progress=False)
    packed = compute_reference_logps(model, encoded, PackedPairCollator(tok.pad_token_id), 5, progress=False)
    for a, b in zip(padded, packed):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-5)
    a = score_pairs(model, encoded, PaddedPairCollator(tok.pad_token_id), batch_size=4)
    b = score_pairs(model, encoded, batch_size=4)  # default: packed rows
    assert torch.equal(a.index, b.index)
    torch.testing.assert_close(b.chosen, a.chosen, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b.rejected, a.rejected, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_packed_equals_padded_on_smollm2_hh(smollm2_dir, shared_data):
    pairs = load_pairs(DataSpec(str(shared_data / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"), limit=4))
    tok = load_tokenizer(str(smollm2_dir))
    encoded = PairEncoder(tok, EncodingConfig(max_length=512)).encode_all(pairs)
    model = build_reward_model(ModelConfig(name=str(smollm2_dir), tuning="full")).eval()
    with torch.no_grad():
        a = model(**PaddedPairCollator(tok.pad_token_id)(encoded), need_logps=True)
        b = model(**PackedPairCollator(tok.pad_token_id)(encoded), need_logps=True)
    torch.testing.assert_close(b["rewards"], a["rewards"], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(b["logps"], a["logps"], atol=1e-3, rtol=1e-5)


# ---- groups: the completions of one prompt ------------------------------------------------------------


def test_a_group_lays_out_the_prompt_once_then_each_response():
    g = PackedGroup.of([[1, 2, 3, 4, EOS], [1, 2, 3, 5, 6, EOS], [1, 2, 3, 4, 7, EOS]], prompt_len=3)
    assert g.shared == 3  # the three responses have no common first token
    assert g.tokens == [1, 2, 3, 4, EOS, 5, 6, EOS, 4, 7, EOS]
    assert g.position_ids() == [0, 1, 2, 3, 4, 3, 4, 5, 3, 4, 5]  # each response continues from the prompt
    assert g.segments() == [PREFIX] * 3 + [1] * 2 + [2] * 3 + [3] * 3
    assert g.length == 11 and [g.offset(j, 3) for j in range(3)] == [3, 5, 8]
    m = block_mask(torch.tensor(g.segments()), torch.zeros(g.length, dtype=torch.long))
    third = [8, 9, 10]
    for q in third:  # the third response sees the prompt and itself, never the other two
        assert m[q, :3].all() and not m[q, 3:8].any() and m[q, third].tolist() == [k <= q for k in third]
    assert shared_prefix_length([[1, 2, EOS]]) == 2  # a single sequence: a prefix and its last token
    assert shared_prefix_length([[1, 2, EOS], [1, 2, EOS]]) == 2  # equal sequences keep one suffix token each


def test_prompt_groups_share_equal_prompts_and_cut_long_groups():
    items = [([1, 2], [3, EOS]), ([5], [6, EOS]), ([1, 2], [4, 4, EOS]), ([1, 2], [7, EOS]), ([1, 2, 9], [3, EOS])]
    groups, parts = prompt_groups(items)
    assert parts == [[0, 2, 3], [1], [4]]  # equal prompt ids only, in first-seen order; singletons stay alone
    assert [g.length for g in groups] == [2 + 2 + 3 + 2, 3, 5]
    _, cut = prompt_groups(items, row_tokens=7)  # the prompt (2) + responses up to 7 tokens per part
    assert cut == [[0, 2], [3], [1], [4]]
    _, capped = prompt_groups(items, max_items=2)
    assert capped == [[0, 2], [3], [1], [4]]
    with pytest.raises(DataError, match="record 1.*response_ids"):
        prompt_groups([([1], [2]), ([1], [])])


def test_sequence_collator_positions_follow_the_feature_order():
    features = [(10, [1, 2], [3, EOS]), (11, [5], [6, 7, EOS]), (12, [1, 2], [4, 8, EOS]), (13, [1, 2], [3, EOS])]
    batch = PackedSequenceCollator(pad_token_id=0, row_tokens=None)(features)
    ids = batch["input_ids"].reshape(-1)
    assert batch["num_tokens"] == (2 + 2 + 3 + 2) + 4  # the prompt [1, 2] once, then the three responses
    assert ids[batch["reward_positions"]].tolist() == [EOS] * 4
    assert batch["index"].tolist() == [10, 11, 12, 13]
    for s, (_, prompt, response) in enumerate(features):
        sel = batch["logp_seq"] == s
        assert batch["logp_targets"][sel].tolist() == response
        assert ids[batch["logp_positions"][sel]].tolist() == (prompt + response)[len(prompt) - 1 : -1]
        position = batch["reward_positions"][s].item()
        assert batch["position_ids"].reshape(-1)[position].item() == len(prompt) + len(response) - 1


def test_grouped_batches_keep_prompt_groups_together_within_the_limits():
    items = [([p] * 6, [p, 9] * k + [EOS]) for p in range(1, 6) for k in range(1, 4)]  # 5 prompts x 3 items
    for batch_size, budget in ((16, None), (4, None), (16, 30)):
        batches = grouped_batches(items, batch_size, row_tokens=None, token_budget=budget)
        assert sorted(i for b in batches for i in b) == list(range(len(items)))
        assert all(len(b) <= batch_size for b in batches)
        for b in batches:
            groups, _ = prompt_groups([items[i] for i in b])
            assert budget is None or sum(g.length for g in groups) <= budget or len(groups) == 1
            prompts = {items[i][0][0] for i in b}
            assert all(sum(items[i][0][0] == p for i in b) == 3 for p in prompts)  # a prompt's items stay together
    assert len(grouped_batches(items, 16, row_tokens=None)) == 1
    assert len(grouped_batches(items, 2, row_tokens=None)) == 5 + 3  # groups cut to parts of 2 and 1 item
