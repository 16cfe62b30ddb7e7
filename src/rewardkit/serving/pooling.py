"""vLLM- and SGLang-style pooling endpoints: what verl's reward loop sends to a discriminative reward model.

  POST /classify       vLLM (`reward_model.rollout.name=vllm`): {"model", "input": "<conversation>" | [...],
                       "activation"/"use_activation"} or {"model", "messages": [...]} →
                       {"id", "object": "list", "created", "model", "data": [{"index", "label", "probs": [p],
                       "num_classes": 1}], "usage"}; verl reads data[-1].probs[-1] and sends activation=false
  POST /v1/embeddings  SGLang (`rollout.name=sglang`, OpenAI embeddings shape): {"model", "input"} →
                       {"object": "list", "data": [{"object": "embedding", "embedding": [reward], "index"}],
                       "model", "usage"}; verl reads data[-1].embedding[-1]

An `input` string is a full conversation rendered with the chat template (verl renders the prompt messages
plus the response with add_generation_prompt=False and strips BOS); it is split at the last assistant header
and scored like the equivalent /score item (serving/rendered.py). vLLM's activation for a one-label model is a
sigmoid (identity when the model's config says problem_type=regression); false gives the reward itself.
Rewards are z-normalised as on /get_reward when the server has statistics. One model per server: `model` is
echoed, not checked. Token-id inputs are refused (422): send text. The guards of /score apply (serving/app.py):
the bearer token and body limits before the body is read, the item count (`input` entries) before validation,
the character / message limits before tokenizing; rendered inputs over max_length follow --query-over-length
(as /get_reward: the latest tokens kept), `messages` --over-length; an item whose scoring fails fails its own
request only (500 / 422 naming it).
"""

from __future__ import annotations

import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from rewardkit.data.score_items import parse_item
from rewardkit.serving.schemas import (
    ClassificationData,
    ClassifyRequest,
    ClassifyResponse,
    EmbeddingData,
    EmbeddingRequest,
    EmbeddingResponse,
    UsageInfo,
)
from rewardkit.serving.scorer import Conversation, RenderedText, ScoreInput

if TYPE_CHECKING:
    from rewardkit.serving.app import ScoringService

LABEL = "reward"


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def rendered_inputs(texts: str | list[str]) -> list[ScoreInput]:
    return [RenderedText(t) for t in ([texts] if isinstance(texts, str) else texts)]


def add_pooling_routes(app: FastAPI, service: ScoringService, auth: list[Any], errors: dict[int | str, Any]) -> None:
    """Register /classify and /v1/embeddings on `app`, behind the same bearer-token dependency as /score."""
    info = service.scorer.info()
    served = str(info.get("model") or "reward-model")
    activation_default = info.get("problem_type") != "regression"

    async def rewards_and_usage(inputs: list[ScoreInput], source: str) -> tuple[list[float], UsageInfo]:
        tokens: list[int] = []
        rewards, _ = await service.rewards(inputs, source, service.wants_normalization(None), usage=tokens)
        return rewards, UsageInfo(prompt_tokens=sum(tokens), total_tokens=sum(tokens))

    # as /score: the bearer token (and the body limits) before the body is read, the count before validation
    dependencies = [*auth, service.count_guard("input")]

    @app.post("/classify", response_model=ClassifyResponse, dependencies=dependencies, responses=errors)
    async def classify(request: ClassifyRequest) -> ClassifyResponse:
        """vLLM's classification API for a one-label (reward) model: probs = [reward] or [sigmoid(reward)]."""
        if request.messages is not None:
            record = {"messages": [m.model_dump() for m in request.messages]}
            inputs: list[ScoreInput] = [Conversation(*parse_item(record, 0, "messages"))]
            source = "messages"
        else:
            inputs, source = rendered_inputs(request.input), "input"
        rewards, usage = await rewards_and_usage(inputs, source)
        squash = sigmoid if request.wants_activation(activation_default) else float
        return ClassifyResponse(
            id=f"classify-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=request.model or served,
            data=[
                ClassificationData(index=i, label=LABEL, probs=[squash(r)], num_classes=1)
                for i, r in enumerate(rewards)
            ],
            usage=usage,
        )

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, dependencies=dependencies, responses=errors)
    async def embeddings(request: EmbeddingRequest) -> EmbeddingResponse:
        """SGLang serves reward models as embedding models whose one-dimensional embedding is the reward."""
        rewards, usage = await rewards_and_usage(rendered_inputs(request.input), "input")
        return EmbeddingResponse(
            data=[EmbeddingData(embedding=[r], index=i) for i, r in enumerate(rewards)],
            model=request.model or served,
            usage=usage,
        )
