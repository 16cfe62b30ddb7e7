"""The server groups items by prompt: within a request and across concurrent requests (verl sends one request
per completion), each shared prompt is computed once, and the rewards equal one padded row per item."""

from __future__ import annotations

import math

import httpx
import pytest
import torch

from rewardkit.evaluation.scoring import score_sequences
from rewardkit.serving.config import BatchingConfig, ServerConfig
from rewardkit.serving.scorer import ModelBatchScorer

from .servers import AUTH, app_client, live_server, post_concurrently

PROMPT = [{"role": "user", "content": "Why is the sky blue?"}]  # the tiny model's limit: 96 tokens (bytes)
COMPLETIONS = [
    "Rayleigh scattering.",
    "Because of the ocean.",
    "Blue light scatters most.",
    "I don't know.",
    "Short waves scatter more.",
    "The sky reflects the sea.",
    "Air scatters blue light.",
    "Magic.",
]


def offline(scorer) -> list[float]:
    return scorer.score([PROMPT] * len(COMPLETIONS), COMPLETIONS, packing=False)["rewards"].tolist()


def item_tokens(scorer) -> int:
    encoder = scorer.encoder()
    return sum(len(p) + len(r) for p, r in (encoder.encode_single(PROMPT, c) for c in COMPLETIONS))


def test_one_request_of_a_group_computes_the_prompt_once(scorer):
    items = [{"prompt": PROMPT, "response": c} for c in COMPLETIONS] + [{"prompt": "Other prompt", "response": "x"}]
    with app_client(ModelBatchScorer(scorer)) as client:
        r = client.post("/score", json={"items": items}, headers=AUTH)
        stats = client.get("/info", headers=AUTH).json()["stats"]
    assert r.status_code == 200, r.text
    assert r.json()["rewards"][:-1] == pytest.approx(offline(scorer), abs=1e-5)
    prompt = len(scorer.encoder().encode_single(PROMPT, COMPLETIONS[0])[0])
    other = sum(map(len, scorer.encoder().encode_single([{"role": "user", "content": "Other prompt"}], "x")))
    assert stats["batches"] == 1
    assert stats["tokens"] == item_tokens(scorer) - (len(COMPLETIONS) - 1) * prompt + other  # the prompt once
    assert stats["packed_tokens"] == stats["tokens"]  # the batch budget counts what is computed


def test_concurrent_single_item_requests_of_a_group_share_the_prompt(scorer):
    config = ServerConfig(log_level="warning", batching=BatchingConfig(max_batch=16, wait_ms=300))
    expected = offline(scorer)
    texts = [
        scorer.tokenizer.apply_chat_template(PROMPT + [{"role": "assistant", "content": c}], tokenize=False)
        for c in COMPLETIONS
    ]
    with live_server(ModelBatchScorer(scorer), config) as live:
        # verl: one /classify request per completion, all in flight together
        replies = post_concurrently(
            live.url, "/classify", [{"model": "rm", "input": t, "activation": False} for t in texts]
        )
        stats = httpx.get(f"{live.url}/info", headers=AUTH).json()["stats"]
    assert [r.json()["data"][-1]["probs"][-1] for r in replies] == pytest.approx(expected, abs=1e-5)
    assert stats["requests"] == len(texts) and stats["batches"] < len(texts)
    assert stats["tokens"] < item_tokens(scorer)  # items of one prompt met in a batch and shared it


def test_a_nan_item_fails_its_own_request_although_its_row_shared_attention(scorer):
    """Packed rows share attention: one item's NaN hidden states reach the items beside it (a masked key's weight
    is 0, and 0 x NaN is NaN). The batcher scores the NaN items again in halves, so among concurrent single-item
    requests grouped by prompt only the poisoned one fails (422 naming it); the others get their rewards."""
    poisoned = "A tilde ~ here."  # "~" appears in no other rendered conversation
    completions = COMPLETIONS[:5] + [poisoned]
    expected = scorer.score([PROMPT] * 5, COMPLETIONS[:5], packing=False)["rewards"].tolist()
    texts = [
        scorer.tokenizer.apply_chat_template(PROMPT + [{"role": "assistant", "content": c}], tokenize=False)
        for c in completions
    ]
    assert all("~" not in t for t in texts[:-1])
    marker = torch.tensor(scorer.tokenizer("~", add_special_tokens=False)["input_ids"])

    def nan_at_marker(module, inputs, output):
        return output.masked_fill(torch.isin(inputs[0], marker)[..., None], math.nan)

    embeddings = scorer.model.base_backbone.get_input_embeddings()
    with torch.no_grad():  # the poison spreads in a packed batch: every reward of the group is NaN
        handle = embeddings.register_forward_hook(nan_at_marker)
        try:
            encoder = scorer.encoder()
            together = score_sequences(
                scorer.model, [encoder.encode_single(PROMPT, c) for c in completions], scorer.tokenizer.pad_token_id
            )["rewards"]
            assert together.isnan().all()
            config = ServerConfig(log_level="warning", batching=BatchingConfig(max_batch=16, wait_ms=300))
            with live_server(ModelBatchScorer(scorer), config) as live:
                replies = post_concurrently(
                    live.url, "/classify", [{"model": "rm", "input": t, "activation": False} for t in texts]
                )
                stats = httpx.get(f"{live.url}/info", headers=AUTH).json()["stats"]
        finally:
            handle.remove()
    bad = replies[len(texts) - 1]
    assert bad.status_code == 422 and bad.json()["detail"][0]["type"] == "non_finite_reward"
    assert bad.json()["detail"][0]["loc"] == ["body", "input", 0]
    assert [replies[i].json()["data"][0]["probs"][0] for i in range(5)] == pytest.approx(expected, abs=1e-5)
    assert stats["batches"] < len(texts) and stats["failed_items"] == 1 and stats["isolation_calls"] > 0
