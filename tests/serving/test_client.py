"""RewardClient and the TRL reward function against the app (TestClient transport) and a mock transport."""

from __future__ import annotations

import httpx
import pytest
from trl.trainer.utils import get_callable_name

from rewardkit.serving.client import RewardClient, RewardServerError
from rewardkit.serving.config import LimitsConfig, ServerConfig
from rewardkit.serving.reward_function import RemoteRewardFunction, completion_item
from rewardkit.serving.scorer import ModelBatchScorer

from .servers import TOKEN, app_client

PROMPTS = ["What is 2+2?", "Name a colour.", "Say hi", "Count to three", "Thanks!"]
RESPONSES = ["4", "Blue.", "Hi!", "1, 2, 3", "You're welcome."]


def offline(scorer, prompts, responses):
    return scorer.score([[{"role": "user", "content": p}] for p in prompts], responses)["rewards"].tolist()


@pytest.fixture
def rm(scorer):
    config = ServerConfig(limits=LimitsConfig(max_items=2))  # the client must chunk 5 items
    with app_client(ModelBatchScorer(scorer), config) as http:
        yield RewardClient(token=TOKEN, http=http, chunk_size=2)


def test_client_scores_in_chunks_and_reads_health_and_info(rm, scorer):
    expected = offline(scorer, PROMPTS, RESPONSES)
    assert rm.score_pairs(PROMPTS, RESPONSES) == pytest.approx(expected, abs=1e-5)
    assert rm.score([{"prompt": p, "response": r} for p, r in zip(PROMPTS, RESPONSES)]) == pytest.approx(
        expected, abs=1e-5
    )
    queries = [
        scorer.tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        + r
        + scorer.tokenizer.eos_token
        for p, r in zip(PROMPTS, RESPONSES)
    ]
    assert rm.get_reward(queries) == pytest.approx(expected, abs=1e-5)
    assert rm.health()["status"] == "ok"
    assert rm.info()["stats"]["requests"] == 9  # 3 + 3 chunks of /score, 3 of /get_reward


def test_client_raises_the_servers_message(rm):
    with pytest.raises(RewardServerError) as err:
        rm.score([{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}])
    assert err.value.status_code == 422 and "last message must be the assistant" in str(err.value)
    rm.http.headers["Authorization"] = "Bearer wrong-token-0123456789"
    with pytest.raises(RewardServerError, match="401"):
        rm.score_pairs(["a"], ["b"])


def test_client_retries_busy_and_unreachable_servers():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused")
        if len(calls) == 2:
            return httpx.Response(503, json={"detail": "busy"})
        return httpx.Response(200, json={"rewards": [1.5], "normalized": False})

    http = httpx.Client(base_url="http://rm", transport=httpx.MockTransport(handler))
    assert RewardClient(http=http, backoff_s=0).score_pairs(["a"], ["b"]) == [1.5] and len(calls) == 3
    calls.clear()
    always_busy = httpx.Client(
        base_url="http://rm",
        transport=httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(503, json={"detail": "busy"})),
    )
    with pytest.raises(RewardServerError, match="503"):
        RewardClient(http=always_busy, retries=2, backoff_s=0).score_pairs(["a"], ["b"])
    assert len(calls) == 3


def test_trl_reward_function_scores_standard_and_conversational_completions(rm, scorer):
    reward = RemoteRewardFunction(rm, name="rm_server")
    assert get_callable_name(reward) == "rm_server"
    expected = offline(scorer, PROMPTS, RESPONSES)
    standard = reward(prompts=PROMPTS, completions=RESPONSES, completion_ids=[[1]] * 5, trainer_state=None)
    # TRL's standard format is one text, scored as TRL's reward_funcs=<path> scores it: no chat template
    texts = scorer.score_texts([p + r for p, r in zip(PROMPTS, RESPONSES)]).tolist()
    assert standard == pytest.approx(texts, abs=1e-5)
    assert max(abs(a - b) for a, b in zip(standard, expected)) > 1e-3
    conversational = reward(
        prompts=[[{"role": "user", "content": p}] for p in PROMPTS],
        completions=[[{"role": "assistant", "content": r}] for r in RESPONSES],
    )
    assert conversational == pytest.approx(expected, abs=1e-5)


def test_completion_item_shapes():
    assert completion_item("q", "a", 0) == {"text": "qa"}
    assert completion_item([{"role": "user", "content": "q"}], "a", 0) == {
        "prompt": [{"role": "user", "content": "q"}],
        "response": "a",
    }
    assert completion_item("q", [{"role": "assistant", "content": "a"}], 0) == {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    }
    with pytest.raises(TypeError, match="completion 3"):
        completion_item("q", 42, 3)
