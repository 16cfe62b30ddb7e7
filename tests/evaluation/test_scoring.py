"""Prompt-grouped scoring: the same rewards as one padded row per item, with each shared prompt computed once."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from rewardkit.data.encoding import EncodingConfig
from rewardkit.data.loading import DataSpec, load_pairs
from rewardkit.data.packing import PackedSequenceCollator
from rewardkit.evaluation.evaluate import Scorer, load_scorer
from rewardkit.evaluation.scoring import score_sequences
from rewardkit.models.loading import build_reward_model, load_tokenizer
from rewardkit.models.reward_model import ModelConfig

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def rl_items(shared_data):
    """RL-shaped items from HH-RLHF: prompts with 5, 3, 2 and 1 completions (responses borrowed from other pairs),
    in an interleaved order, plus a prompt whose completions share their first words."""
    pairs = load_pairs(DataSpec(str(shared_data / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"), limit=12))
    responses = [r for p in pairs for r in (p.chosen, p.rejected)]
    sizes = [5, 3, 2, 1, 1]
    items = [
        (pairs[g].prompt, responses[(7 * g + 3 * k) % len(responses)]) for g, n in enumerate(sizes) for k in range(n)
    ]
    items += [(pairs[6].prompt, "Sure, " + ending) for ending in ("here it is.", "I can help.", "why not?")]
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(0)).tolist()
    return [items[i] for i in order]


def scorer_for(model_dir, max_length: int, attn: str = "sdpa") -> Scorer:
    torch.manual_seed(0)
    model = build_reward_model(ModelConfig(name=str(model_dir), tuning="full", attn_implementation=attn))
    return Scorer(
        name=str(model_dir),
        model=model,
        tokenizer=load_tokenizer(str(model_dir)),
        encoding=EncodingConfig(max_length=max_length),
    )


def assert_grouped_equals_padded(scorer: Scorer, items, key: str = "rewards", **kwargs) -> Counter:
    prompts, responses = [p for p, _ in items], [r for _, r in items]
    padded = scorer.score(prompts, responses, batch_size=4, packing=False)[key]
    encoder = scorer.encoder()
    sequences = [encoder.encode_single(p, r) for p, r in items]
    work: Counter = Counter()
    grouped = score_sequences(
        scorer.model,
        sequences,
        scorer.tokenizer.pad_token_id,
        reward_head=scorer.reward_head,
        reference=scorer.reference,
        beta=scorer.beta,
        work=work,
        **kwargs,
    )[key]
    assert padded.abs().max() > 1e-3  # a reward head at random init: non-trivial values
    torch.testing.assert_close(grouped, padded, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(scorer.score(prompts, responses)[key], padded, atol=TOLERANCE, rtol=0)
    assert work["tokens"] < sum(len(p) + len(r) for p, r in sequences)  # the shared prompts were computed once
    return work


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_grouped_equals_padded_with_the_chat_template(tiny_model_dir, rl_items, attn):
    scorer = scorer_for(tiny_model_dir, max_length=1024, attn=attn)
    work = assert_grouped_equals_padded(scorer, rl_items, batch_size=16)
    assert work["grid_tokens"] >= work["tokens"] and work["attention_pairs"] > 0


def test_grouped_equals_padded_with_the_plain_template_and_cut_groups(tiny_plain_model_dir, rl_items):
    scorer = scorer_for(tiny_plain_model_dir, max_length=1024)
    assert not scorer.encoder().renderer.use_chat_template
    # small batches and rows: groups are cut into parts (each with its prompt), parts spread over rows and batches
    assert_grouped_equals_padded(scorer, rl_items, batch_size=3, row_tokens=700, token_budget=1500)


def test_grouped_equals_padded_when_long_prompts_are_truncated(tiny_model_dir, rl_items):
    scorer = scorer_for(tiny_model_dir, max_length=160)  # HH prompts lose their oldest turns, responses their end
    encoder = scorer.encoder()
    truncated = [encoder.encode_single(p, r) for p, r in rl_items]
    assert max(len(p) + len(r) for p, r in truncated) == 160
    assert len({tuple(p) for p, _ in truncated}) < len(truncated)  # groups remain after truncation
    assert_grouped_equals_padded(scorer, rl_items, batch_size=16)


def test_implicit_rewards_of_groups_equal_padded(tiny_haf_dir, rl_items):
    scorer = load_scorer(str(tiny_haf_dir), max_length=512)
    assert scorer.reference is not None
    assert_grouped_equals_padded(scorer, rl_items[:8], key="implicit", batch_size=8)


def test_a_leaky_mask_would_change_the_rewards_of_grouped_responses(tiny_model_dir, rl_items):
    """The equality above is not vacuous: a response that saw its siblings would get another reward."""
    scorer = scorer_for(tiny_model_dir, max_length=1024)
    encoder = scorer.encoder()
    features = [(i, *encoder.encode_single(p, r)) for i, (p, r) in enumerate(rl_items)]
    batch = PackedSequenceCollator(scorer.tokenizer.pad_token_id, row_tokens=None)(features)
    causal = torch.ones_like(batch["attention_mask"]).tril()
    with torch.no_grad():
        good = scorer.model(**batch)["rewards"]
        leaky = scorer.model(**dict(batch, attention_mask=causal))["rewards"]
    assert ((good - leaky).abs() > 1e-3).sum() >= len(rl_items) // 2


@pytest.mark.slow
def test_grouped_equals_padded_on_smollm2(smollm2_dir, rl_items):
    scorer = scorer_for(smollm2_dir, max_length=512)
    assert_grouped_equals_padded(scorer, rl_items, batch_size=16)
