"""/classify (vLLM) and /v1/embeddings (SGLang) with the payloads verl's reward loop sends."""

from __future__ import annotations

import math

import pytest

from rewardkit.serving.config import LimitsConfig, ServerConfig
from rewardkit.serving.normalization import Normalization
from rewardkit.serving.scorer import ModelBatchScorer

from .servers import AUTH, app_client

CHATS = [
    [{"role": "user", "content": "What is the range of a sigmoid?"}, {"role": "assistant", "content": "0 to 1."}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of Australia?"},
        {"role": "assistant", "content": "Canberra."},
    ],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
        {"role": "assistant", "content": "Fine, thanks.\n"},
    ],
]


def offline(scorer, chats) -> list[float]:
    return scorer.score([c[:-1] for c in chats], [c[-1]["content"] for c in chats], packing=False)["rewards"].tolist()


def verl_input(tokenizer, chat) -> str:
    """verl's RewardLoopWorker: the whole chat rendered with add_generation_prompt=False (it also strips a leading
    BOS; the tiny tokenizer's "BOS" is <|im_start|>, which no real ChatML tokenizer declares, so that is skipped)."""
    return tokenizer.apply_chat_template(chat, add_generation_prompt=False, tokenize=False)


@pytest.mark.parametrize("flag", ["activation", "use_activation"])
def test_classify_answers_verl_with_the_raw_reward(client, scorer, flag):
    expected = offline(scorer, CHATS)
    for chat, reward in zip(CHATS, expected):
        payload = {"model": "/models/my-rm", "input": verl_input(scorer.tokenizer, chat), flag: False}
        if flag == "use_activation":
            payload["add_special_tokens"] = False  # what verl sends to vLLM >= 0.11.2
        r = client.post("/classify", json=payload, headers=AUTH)
        assert r.status_code == 200, r.text
        output = r.json()
        assert output["data"][-1]["probs"][-1] == pytest.approx(reward, abs=1e-5)  # how verl reads it
        assert output["model"] == "/models/my-rm" and output["object"] == "list"
        assert output["id"].startswith("classify-") and isinstance(output["created"], int)
        assert output["data"] == [
            {"index": 0, "label": "reward", "probs": output["data"][0]["probs"], "num_classes": 1}
        ]
        assert output["usage"]["prompt_tokens"] == output["usage"]["total_tokens"] > 0
        assert output["usage"]["completion_tokens"] == 0


def test_classify_batches_chat_form_and_the_activation_follows_the_problem_type(client, scorer):
    expected = offline(scorer, CHATS)
    sigmoid = [1 / (1 + math.exp(-x)) for x in expected]
    texts = [verl_input(scorer.tokenizer, c) for c in CHATS]
    # rewardkit exports say problem_type "regression": vLLM's default activation is then the identity
    assert scorer.model.config.problem_type == "regression"
    r = client.post("/classify", json={"input": texts}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert [d["index"] for d in r.json()["data"]] == [0, 1, 2]
    assert [d["probs"][0] for d in r.json()["data"]] == pytest.approx(expected, abs=1e-5)
    assert r.json()["model"] == scorer.name
    on = client.post("/classify", json={"input": texts, "use_activation": True}, headers=AUTH).json()
    assert [d["probs"][0] for d in on["data"]] == pytest.approx(sigmoid, abs=1e-6)
    scorer.model.config.problem_type = None  # another tool's one-label classifier: vLLM's default is a sigmoid
    try:
        with app_client(ModelBatchScorer(scorer)) as other:
            default = other.post("/classify", json={"input": texts}, headers=AUTH).json()
    finally:
        scorer.model.config.problem_type = "regression"
    assert [d["probs"][0] for d in default["data"]] == pytest.approx(sigmoid, abs=1e-6)
    chat = client.post("/classify", json={"messages": CHATS[1], "use_activation": False}, headers=AUTH).json()
    assert chat["data"][0]["probs"][0] == pytest.approx(expected[1], abs=1e-5)
    # the same conversation as an OpenRLHF query and as a /score item: one reward everywhere
    item = client.post("/score", json={"items": [{"messages": CHATS[1]}]}, headers=AUTH).json()["rewards"][0]
    assert item == pytest.approx(chat["data"][0]["probs"][0], abs=1e-6)


def test_embeddings_answer_verl_sglang_payload(client, scorer):
    expected = offline(scorer, CHATS)
    for chat, reward in zip(CHATS, expected):
        r = client.post(
            "/v1/embeddings", json={"model": "rm", "input": verl_input(scorer.tokenizer, chat)}, headers=AUTH
        )
        assert r.status_code == 200, r.text
        output = r.json()
        assert output["data"][-1]["embedding"][-1] == pytest.approx(reward, abs=1e-5)
        assert output["data"][0]["object"] == "embedding" and output["object"] == "list"
        assert output["usage"]["prompt_tokens"] > 0


def test_pooling_routes_need_the_token_and_valid_input(client, scorer):
    text = verl_input(scorer.tokenizer, CHATS[0])
    for path, body in (("/classify", {"input": text}), ("/v1/embeddings", {"input": text})):
        assert client.post(path, json=body).status_code == 401
        assert (
            client.post(path, json=body, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
        )
    both = client.post("/classify", json={"input": text, "messages": CHATS[0]}, headers=AUTH)
    assert both.status_code == 422 and "either" in both.text
    no_turn = client.post("/classify", json={"input": [text, "no assistant turn here"]}, headers=AUTH)
    assert no_turn.status_code == 422
    assert no_turn.json()["detail"][0]["loc"] == ["body", "input", 1]
    ids = client.post("/v1/embeddings", json={"input": [1, 2, 3]}, headers=AUTH)
    assert ids.status_code == 422  # token-id inputs are refused: send text
    not_last = client.post("/classify", json={"messages": CHATS[0][:1] + CHATS[0][:1]}, headers=AUTH)
    assert not_last.status_code == 422 and "assistant" in not_last.text


def test_pooling_rewards_are_normalised_like_get_reward(scorer):
    norm = Normalization(mean=0.5, std=2.0, source="test")
    text = verl_input(scorer.tokenizer, CHATS[0])
    raw = offline(scorer, CHATS[:1])[0]
    with app_client(ModelBatchScorer(scorer), normalization=norm) as client:
        r = client.post("/classify", json={"input": text, "activation": False}, headers=AUTH).json()
        e = client.post("/v1/embeddings", json={"input": text}, headers=AUTH).json()
    assert r["data"][0]["probs"][0] == pytest.approx((raw - 0.5) / 2.0, abs=1e-5)
    assert e["data"][0]["embedding"][0] == pytest.approx((raw - 0.5) / 2.0, abs=1e-5)


def test_pooling_routes_are_guarded_like_score(scorer):
    """The limits of /score hold on /classify and /v1/embeddings: the count before validation, messages and
    characters before tokenizing; an over-length rendered input is cut from the left like a /get_reward query."""
    config = ServerConfig(limits=LimitsConfig(max_items=4, max_messages=8))
    with app_client(ModelBatchScorer(scorer), config) as client:
        for path in ("/classify", "/v1/embeddings"):
            body = b'{"input": [' + b",".join([b"{}"] * 50_000) + b"]}"  # invalid entries: refused for the count
            r = client.post(path, content=body, headers={**AUTH, "content-type": "application/json"})
            assert r.status_code == 413 and "50000 items exceed the limit of 4" in r.json()["detail"]
            limit = 2 * ModelBatchScorer(scorer).max_chars  # rendered inputs: twice the item budget
            huge = verl_input(scorer.tokenizer, [CHATS[0][0], {"role": "assistant", "content": "x" * limit}])
            r = client.post(path, json={"input": [verl_input(scorer.tokenizer, CHATS[0]), huge]}, headers=AUTH)
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "input", 1], r.text
            assert f"characters exceed the limit of {limit}" in r.json()["detail"][0]["msg"]
        chat = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 5
        r = client.post("/classify", json={"messages": chat}, headers=AUTH)
        assert r.status_code == 422 and "10 messages exceed the limit of 8" in r.json()["detail"][0]["msg"]
        long = verl_input(scorer.tokenizer, [{"role": "user", "content": "word " * 40}, CHATS[0][1]])
        assert len(scorer.tokenizer(long)["input_ids"]) > scorer.encoding.max_length
        classify = client.post("/classify", json={"input": long, "activation": False}, headers=AUTH)
        query = client.post("/get_reward", json={"query": [long]}, headers=AUTH).json()
        assert classify.status_code == 200 and query["truncated"] == [True]
        assert classify.json()["data"][0]["probs"][0] == pytest.approx(query["rewards"][0], abs=1e-6)
