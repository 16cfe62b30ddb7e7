"""Endpoints on a tiny exported reward model: valid, invalid, oversized, unauthorised requests."""

from __future__ import annotations

import statistics
import threading

import httpx
import pytest

from rewardkit.config import ConfigError
from rewardkit.data.encoding import PLAIN_CHAT_TEMPLATE, PromptRenderer
from rewardkit.evaluation.evaluate import load_scorer
from rewardkit.serving.config import BatchingConfig, LimitsConfig, NormalizationConfig, ServerConfig
from rewardkit.serving.normalization import Normalization, build_normalization
from rewardkit.serving.scorer import FunctionBatchScorer, ModelBatchScorer
from rewardkit.testing.fuzzing import MALFORMED_BODIES

from .servers import AUTH, app_client, live_server

PROMPTS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
    ],
]
RESPONSES = ["4", "Blue, like the sky.", "Fine, thanks."]


def message(response) -> str:
    """The error text of a reply: FastAPI's 422 list of {loc, msg, type}, or a plain detail string."""
    detail = response.json()["detail"]
    return detail if isinstance(detail, str) else " | ".join(d["msg"] for d in detail)


def offline(scorer, prompts, responses, key="rewards"):
    return scorer.score(prompts, responses, batch_size=1)[key].tolist()


def rendered(tokenizer, prompt, response):
    """What an RL framework sends: the prompt rendered with its generation prompt, the response, EOS."""
    return (
        PromptRenderer(tokenizer).prompt_text(prompt)
        + PromptRenderer(tokenizer).response_text(response)
        + tokenizer.eos_token
    )


def test_score_equals_offline_scoring_in_every_item_format(client, scorer):
    items = [
        {"prompt": "What is 2+2?", "response": "4"},
        {"prompt": PROMPTS[1], "response": RESPONSES[1]},
        {"messages": PROMPTS[2] + [{"role": "assistant", "content": RESPONSES[2]}]},
    ]
    r = client.post("/score", json={"items": items}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["normalized"] is False
    assert r.json()["rewards"] == pytest.approx(offline(scorer, PROMPTS, RESPONSES), abs=1e-5)
    assert client.post("/score", json={"items": []}, headers=AUTH).json()["rewards"] == []


def test_rendered_query_scores_like_the_equivalent_item(client, scorer):
    tok = scorer.tokenizer
    queries = [rendered(tok, p, r) for p, r in zip(PROMPTS, RESPONSES)]
    queries.append(tok.pad_token * 3 + queries[0] + tok.pad_token * 2)  # left and right padding as in RL batches
    queries.append(queries[1][: -len(tok.eos_token)])  # EOS missing: appended like for every response
    r = client.post("/get_reward", json={"query": queries, "prompts": ["ignored"], "labels": [None]}, headers=AUTH)
    assert r.status_code == 200, r.text
    expected = offline(scorer, PROMPTS, RESPONSES)
    assert r.json()["rewards"] == pytest.approx(expected + expected[:2], abs=1e-5)
    assert r.json()["scores"] == r.json()["rewards"]


@pytest.mark.parametrize("reward", ["reward", "implicit"])
def test_rendered_plain_template_and_implicit_reward(tiny_haf_dir, reward):
    scorer = load_scorer(str(tiny_haf_dir))  # plain Human:/Assistant: template, HaF: reward head + implicit reward
    assert PromptRenderer(scorer.tokenizer).template == PLAIN_CHAT_TEMPLATE and scorer.reference is not None
    expected = offline(scorer, PROMPTS, RESPONSES, "rewards" if reward == "reward" else "implicit")
    assert max(abs(x) for x in expected) > 1e-3
    queries = [rendered(scorer.tokenizer, p, r) for p, r in zip(PROMPTS, RESPONSES)]
    items = [{"prompt": p, "response": r} for p, r in zip(PROMPTS, RESPONSES)]
    with app_client(ModelBatchScorer(scorer, reward=reward)) as client:
        by_query = client.post("/get_reward", json={"query": queries}, headers=AUTH).json()["rewards"]
        by_item = client.post("/score", json={"items": items}, headers=AUTH).json()["rewards"]
        assert client.get("/info", headers=AUTH).json()["reward"]["reward"] == reward
    assert by_query == pytest.approx(expected, abs=1e-5)
    assert by_item == pytest.approx(expected, abs=1e-5)


def test_query_without_assistant_turn_is_422(client):
    r = client.post("/get_reward", json={"query": ["<|im_start|>assistant\nok", "just some text"]}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "query", 1]
    assert message(r).startswith("query, record 1: no assistant turn found")


def test_item_breaking_a_rule_is_422_naming_record_and_field(client):
    user_only = {"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]}
    r = client.post("/score", json={"items": [{"prompt": "ok", "response": "ok"}, user_only]}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "items", 1, "messages"]
    assert message(r) == "items, record 1, field 'messages': the last message must be the assistant response"


@pytest.mark.parametrize(
    "item",
    [
        {"prompt": "hi"},
        {"response": "hi"},
        {"prompt": [], "response": "x"},
        {"messages": [{"role": "assistant", "content": "hi"}]},  # no prompt turn
        {"prompt": "a", "response": "b", "messages": [{"role": "user", "content": "a"}]},  # ambiguous
        {"prompt": "a", "response": "b", "normalise": True},  # unknown field (a typo would pass silently)
        {"prompt": [{"role": "tool", "content": "x"}], "response": "b"},
    ],
)
def test_item_off_the_schema_is_422_pointing_at_it(client, item):
    r = client.post("/score", json={"items": [{"prompt": "ok", "response": "ok"}, item]}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert all(d["loc"][:3] == ["body", "items", 1] for d in r.json()["detail"]), r.json()


@pytest.mark.parametrize(
    "body",
    [
        *MALFORMED_BODIES,
        b'{"items": [{"prompt": "\\ud800", "response": "NaN"}]}',
    ],
)
@pytest.mark.parametrize("path", ["/score", "/get_reward"])
def test_malformed_bodies_are_4xx_never_500(client, body, path):
    r = client.post(path, content=body, headers={**AUTH, "content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


def test_oversized_requests_are_413_or_422(scorer):
    config = ServerConfig(limits=LimitsConfig(max_body_bytes=4096, max_items=4))
    with app_client(ModelBatchScorer(scorer), config) as client:
        r = client.post("/score", content=b"x" * 5000, headers={**AUTH, "content-type": "application/json"})
        assert r.status_code == 413 and "4096 bytes" in r.json()["detail"]
        streamed = client.post("/score", content=iter([b"x" * 3000, b"y" * 3000]), headers=AUTH)  # chunked
        assert streamed.status_code == 413
        r = client.post("/score", json={"items": [{"prompt": "a", "response": "b"}] * 5}, headers=AUTH)
        assert r.status_code == 413 and "5 items exceed the limit of 4" in r.json()["detail"]
        r = client.post("/get_reward", json={"query": ["x"] * 5}, headers=AUTH)
        assert r.status_code == 413
        long_item = {"prompt": "a", "response": "word " * 40}  # > 96 tokens (byte-level tokenizer)
        r = client.post("/score", json={"items": [{"prompt": "a", "response": "b"}, long_item]}, headers=AUTH)
        assert r.status_code == 422 and "items, record 1, field 'response'" in message(r)
        assert "exceed the limit of 96" in message(r)


def test_over_length_truncate_scores_like_rewardkit_score(scorer):
    prompt, response = [{"role": "user", "content": "q " * 30}], "word " * 40
    with app_client(ModelBatchScorer(scorer, over_length="truncate")) as client:
        r = client.post("/score", json={"items": [{"prompt": prompt, "response": response}]}, headers=AUTH)
        query = client.post("/get_reward", json={"query": [rendered(scorer.tokenizer, prompt, response)]}, headers=AUTH)
    assert r.status_code == 200 and query.status_code == 200
    assert r.json()["rewards"] == pytest.approx(offline(scorer, [prompt], [response]), abs=1e-5)


def test_over_length_queries_are_cut_from_the_left_and_flagged_by_default(scorer):
    """RL clients get a reward for every query (OpenRLHF retries a 422 and records None): the latest max_length
    tokens are scored, so the response and the reward token stay; /score still rejects unless told otherwise."""
    from rewardkit.data.encoding import truncate_left
    from rewardkit.evaluation.scoring import score_sequences

    long_prompt, response = [{"role": "user", "content": "q " * 60}], "four"
    renderer = PromptRenderer(scorer.tokenizer)
    prompt_ids, (response_ids,) = renderer.encode(long_prompt, [response])
    kept = truncate_left(prompt_ids, response_ids, 96)
    assert len(prompt_ids) + len(response_ids) > 96 and kept[1] == response_ids
    expected = score_sequences(scorer.model, [kept], scorer.tokenizer.pad_token_id)["rewards"][0].item()
    queries = [rendered(scorer.tokenizer, PROMPTS[0], RESPONSES[0]), rendered(scorer.tokenizer, long_prompt, response)]
    with app_client(ModelBatchScorer(scorer)) as client:
        r = client.post("/get_reward", json={"query": queries}, headers=AUTH).json()
        assert r["truncated"] == [False, True] and r["extra_logs"] == {"truncated": [0.0, 1.0]}
        assert r["rewards"] == pytest.approx(offline(scorer, PROMPTS[:1], RESPONSES[:1]) + [expected], abs=1e-5)
        item = {"prompt": long_prompt, "response": response}
        assert client.post("/score", json={"items": [item]}, headers=AUTH).status_code == 422
        assert client.get("/info", headers=AUTH).json()["reward"]["query_over_length"] == "truncate"
    with app_client(ModelBatchScorer(scorer, query_over_length="reject")) as client:
        r = client.post("/get_reward", json={"query": queries}, headers=AUTH)
        assert r.status_code == 422 and "query, record 1" in message(r)


def test_text_items_are_scored_as_is(client, scorer):
    texts = ["What is 2+2? 4", "<|im_start|>user\nHi<|im_end|>\n"]
    r = client.post("/score", json={"items": [{"text": t} for t in texts]}, headers=AUTH).json()
    assert r["rewards"] == pytest.approx(scorer.score_texts(texts).tolist(), abs=1e-5)
    assert r["truncated"] == [False, False]
    assert client.post("/score", json={"items": [{"text": ""}]}, headers=AUTH).status_code == 422


def test_bearer_token_is_required_except_for_health_and_schema(client):
    item = {"items": [{"prompt": "a", "response": "b"}]}
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": "Basic abc"},
        {"Authorization": AUTH["Authorization"] + "x"},
    ):
        r = client.post("/score", json=item, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", headers
        assert client.post("/get_reward", json={"query": ["x"]}, headers=headers).status_code == 401
        assert client.get("/info", headers=headers).status_code == 401
    assert client.get("/health").json() == {"status": "ok", "pending": 0}
    schema = client.get("/openapi.json").json()
    assert {"/score", "/get_reward", "/health", "/info"} <= set(schema["paths"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_without_token_no_auth_is_asked(scorer):
    with app_client(ModelBatchScorer(scorer), token=None) as client:
        assert client.post("/score", json={"items": [{"prompt": "a", "response": "b"}]}).status_code == 200
        assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_normalisation_from_flags_and_calibration(scorer, tmp_path):
    raw = offline(scorer, PROMPTS, RESPONSES)
    items = [{"prompt": p, "response": r} for p, r in zip(PROMPTS, RESPONSES)]
    norm = Normalization(mean=0.5, std=2.0, source="flags")
    with app_client(ModelBatchScorer(scorer), normalization=norm) as client:
        r = client.post("/score", json={"items": items}, headers=AUTH).json()
        assert r["normalized"] and r["rewards"] == pytest.approx([(x - 0.5) / 2 for x in raw], abs=1e-5)
        r = client.post("/score", json={"items": items, "normalize": False}, headers=AUTH).json()
        assert not r["normalized"] and r["rewards"] == pytest.approx(raw, abs=1e-5)
        q = client.post(
            "/get_reward", json={"query": [rendered(scorer.tokenizer, PROMPTS[0], RESPONSES[0])]}, headers=AUTH
        ).json()
        assert q["rewards"] == pytest.approx([(raw[0] - 0.5) / 2], abs=1e-5)
        assert client.get("/info", headers=AUTH).json()["normalization"] == {
            "mean": 0.5,
            "std": 2.0,
            "source": "flags",
            "count": None,
        }
    calibration = tmp_path / "calibration.jsonl"
    calibration.write_text(
        "".join(
            f'{{"prompt": {p!r}, "response": {r!r}}}\n'.replace("'", '"')
            for p, r in [("a", "b"), ("What is 2+2?", "4"), ("Hi", "Hello there!")]
        )
    )
    measured = build_normalization(NormalizationConfig(calibration=str(calibration)), ModelBatchScorer(scorer))
    cal_raw = offline(
        scorer, [[{"role": "user", "content": p}] for p in ("a", "What is 2+2?", "Hi")], ["b", "4", "Hello there!"]
    )
    assert measured.mean == pytest.approx(statistics.fmean(cal_raw), abs=1e-5)
    assert measured.std == pytest.approx(statistics.pstdev(cal_raw), abs=1e-5) and measured.count == 3


def test_normalisation_from_the_models_config(scorer, tiny_model_dir):
    from dataclasses import replace

    with_stats = ModelBatchScorer(replace(scorer, reward_stats={"mean": 1.0, "std": 4.0}))
    norm = build_normalization(NormalizationConfig(from_model=True), with_stats)
    assert (norm.mean, norm.std, norm.source) == (1.0, 4.0, "model config.json")
    with pytest.raises(ConfigError, match="holds no reward mean"):
        build_normalization(NormalizationConfig(from_model=True), ModelBatchScorer(scorer))


def test_normalize_true_without_statistics_is_400(client):
    r = client.post("/score", json={"items": [{"prompt": "a", "response": "b"}], "normalize": True}, headers=AUTH)
    assert r.status_code == 400 and "normalisation" in message(r)


def test_any_batch_scorer_can_be_served_and_failures_stay_per_request():
    def length_reward(items):
        if any(response == "boom" for _, response in items):
            raise RuntimeError("boom")
        return [float(len(response)) for _, response in items]

    scorer = FunctionBatchScorer(length_reward, {"model": "length", "objective": "rule"})
    with app_client(scorer) as client:
        r = client.post("/score", json={"items": [{"prompt": "a", "response": "abc"}]}, headers=AUTH)
        assert r.json()["rewards"] == [3.0]
        assert (
            client.post("/score", json={"items": [{"prompt": "a", "response": "boom"}]}, headers=AUTH).status_code
            == 500
        )
        r = client.post("/score", json={"items": [{"prompt": "a", "response": "ab"}]}, headers=AUTH)
        assert r.json()["rewards"] == [2.0]  # the worker survived the failed batch
        r = client.post("/get_reward", json={"query": ["x"]}, headers=AUTH)
        assert r.status_code == 422 and "rendered queries are not supported" in message(r)
        assert client.get("/info", headers=AUTH).json()["reward"] == {"model": "length", "objective": "rule"}


def test_full_queue_is_503_with_retry_after(scorer):
    config = ServerConfig(batching=BatchingConfig(max_queue=2))
    with app_client(ModelBatchScorer(scorer), config) as client:
        r = client.post("/score", json={"items": [{"prompt": "a", "response": "b"}] * 3}, headers=AUTH)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"


def test_concurrent_requests_share_forward_passes(scorer):
    config = ServerConfig(log_level="warning", batching=BatchingConfig(max_batch=16, wait_ms=300))
    expected = offline(scorer, PROMPTS, RESPONSES)
    results: dict[int, list[float]] = {}
    with live_server(ModelBatchScorer(scorer), config) as live:
        url = live.url

        def call(i: int) -> None:
            item = {"prompt": PROMPTS[i % 3], "response": RESPONSES[i % 3]}
            results[i] = httpx.post(f"{url}/score", json={"items": [item]}, headers=AUTH, timeout=30).json()["rewards"]

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = httpx.get(f"{url}/info", headers=AUTH).json()["stats"]
    assert all(results[i] == pytest.approx([expected[i % 3]], abs=1e-5) for i in range(8))
    assert stats["requests"] == 8 and stats["items"] == 8 and stats["batches"] < 8
