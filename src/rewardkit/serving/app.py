"""The reward server's ASGI application (FastAPI).

  POST /score       {"items": [{"prompt", "response"} | {"messages"} | {"text"}], "normalize"?}
                    → {"rewards", "normalized", "truncated"}
  POST /get_reward  OpenRLHF remote RM: {"query": [rendered conversations]} → {"rewards", "scores", "truncated",
                    "extra_logs": {"truncated"}}
  POST /classify, /v1/embeddings   vLLM / SGLang pooling requests, as verl's reward loop sends them (pooling.py)
  GET  /health      liveness (no auth)
  GET  /info        model, objective, normalisation, limits, batching statistics
  GET  /openapi.json, /docs

Bad input is a 4xx: 422 with FastAPI's {"detail": [{"loc", "msg", "type"}]} naming the item and field, 413
naming the limit, 401 for the token, 400 for an unreadable body, 408 for a stalled one; a full queue is 503
with Retry-After. The token and the body limits are checked before the body is read (serving/security.py), the
item count before the items are validated, the characters of an item before it is tokenized. Items are
tokenized in one helper thread, in chunks taken in turn from the requests waiting (a huge request delays
no one by more than a chunk), and scored by the dynamic batcher; an item whose scoring fails or gives a
non-finite reward fails its own request only (500 / 422 naming it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from rewardkit import __version__
from rewardkit.data.record import DataError
from rewardkit.data.score_items import parse_item
from rewardkit.serving.batching import DynamicBatcher, ItemError, ItemFailed, Overloaded, ShuttingDown
from rewardkit.serving.config import LimitsConfig, ServerConfig
from rewardkit.serving.normalization import Normalization
from rewardkit.serving.pooling import add_pooling_routes
from rewardkit.serving.schemas import (
    ErrorResponse,
    HealthResponse,
    InfoResponse,
    RewardRequest,
    RewardResponse,
    ScoreRequest,
    ScoreResponse,
    TextItem,
)
from rewardkit.serving.scorer import BatchScorer, Conversation, PlainText, PreparedItem, RenderedText, ScoreInput
from rewardkit.serving.security import RequestGuard, bearer_auth

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "unreadable body, or normalisation asked of a server without it"},
    401: {"model": ErrorResponse, "description": "missing or invalid bearer token"},
    408: {"model": ErrorResponse, "description": "the body did not arrive within the server's body timeout"},
    413: {"model": ErrorResponse, "description": "body or batch over the server's limits"},
    500: {"description": "scoring an item failed; the detail names it (loc: body, items or query, index)"},
    503: {
        "model": ErrorResponse,
        "description": "queue full, too many connections or bodies in transit, or "
        "shutting down; retry after Retry-After seconds",
    },
}
PREPARE_CHUNK_CHARS = 64 * 1024  # characters of items tokenized per turn of the helper thread
PREPARE_CHUNK_ITEMS = 16


def json_response(status: int, detail: Any) -> Response:
    """An error reply in FastAPI's shape, ASCII-escaped so that no input can break its encoding."""
    return Response(
        json.dumps({"detail": detail}, ensure_ascii=True), status_code=status, media_type="application/json"
    )


def item_chars(item: ScoreInput) -> tuple[int, int]:
    """(prompt characters, response characters) of an item; a rendered query counts as all prompt."""
    if isinstance(item, (RenderedText, PlainText)):
        return len(item.text), 0
    return sum(len(m["content"]) for m in item.prompt), len(item.response)


def char_limits(scorer: BatchScorer, limits: LimitsConfig) -> tuple[int | None, int | None]:
    """(characters per conversation item, per rendered query) refused before tokenizing; None: no limit.

    `max_item_chars` when set; otherwise the scorer's character budget (more characters than max_length tokens
    can hold), for conversations only when over-length items are rejected (truncation cuts them instead), for
    rendered queries always and doubled (room for left padding; they are split before they can be cut).
    """
    if limits.max_item_chars is not None:
        return limits.max_item_chars, limits.max_item_chars
    budget = getattr(scorer, "max_chars", None)
    if budget is None:
        return None, None
    return (budget if getattr(scorer, "over_length", "reject") == "reject" else None), 2 * budget


def prepare_chunks(inputs: Sequence[ScoreInput]) -> list[range]:
    """Consecutive index ranges of at most PREPARE_CHUNK_ITEMS items / about PREPARE_CHUNK_CHARS characters."""
    chunks, start, chars = [], 0, 0
    for i, item in enumerate(inputs):
        chars += sum(item_chars(item))
        if i + 1 - start >= PREPARE_CHUNK_ITEMS or chars >= PREPARE_CHUNK_CHARS:
            chunks.append(range(start, i + 1))
            start, chars = i + 1, 0
    if start < len(inputs):
        chunks.append(range(start, len(inputs)))
    return chunks


class ScoringService:
    """Request items → rewards: limits, preparation in a helper thread, dynamic batching, normalisation."""

    def __init__(self, scorer: BatchScorer, config: ServerConfig, normalization: Normalization | None):
        self.scorer = scorer
        self.config = config
        self.normalization = normalization
        self.batcher = DynamicBatcher(scorer.score, config.batching)
        self.prepare_pool: ThreadPoolExecutor | None = None
        self.char_limits = char_limits(scorer, config.limits)

    async def start(self) -> None:
        self.prepare_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardkit-prepare")
        await self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()
        self.prepare_pool.shutdown(wait=True)

    def check_count(self, count: int) -> None:
        if count > self.config.limits.max_items:
            raise HTTPException(413, f"{count} items exceed the limit of {self.config.limits.max_items} per request")

    def count_guard(self, field: str) -> Any:
        """A route dependency: 413 for too many `field` entries, counted on the parsed JSON before the items
        are validated (dependencies run before the body is; the parsed JSON is cached on the request)."""

        async def count_items(request: Request) -> None:
            try:
                body = await request.json()
            except ValueError:
                return  # unreadable: FastAPI answers it
            entries = body.get(field) if isinstance(body, dict) else None
            if isinstance(entries, list):
                self.check_count(len(entries))

        return Depends(count_items)

    def check_size(self, item: ScoreInput, index: int, source: str) -> None:
        """DataError (422) for an item over the message or character limits, before it is tokenized."""
        limits = self.config.limits
        if isinstance(item, Conversation) and len(item.prompt) + 1 > limits.max_messages:
            raise DataError(
                f"{len(item.prompt) + 1} messages exceed the limit of {limits.max_messages} per item",
                source=source,
                index=index,
                field="messages",
            )
        prompt, response = item_chars(item)
        conversation_limit, query_limit = self.char_limits
        whole_text = isinstance(item, (RenderedText, PlainText))  # scored at their latest tokens, cut from the left
        limit = query_limit if whole_text else conversation_limit
        if limit is not None and prompt + response > limit:
            field = (
                "text"
                if isinstance(item, PlainText)
                else None
                if whole_text
                else "prompt"
                if prompt > limit
                else "response"
            )
            raise DataError(
                f"{prompt + response} characters exceed the limit of {limit} per item (more than "
                f"the model's max_length tokens can hold)",
                source=source,
                index=index,
                field=field,
            )

    def _prepare(self, inputs: Sequence[ScoreInput], indices: range, source: str) -> list[PreparedItem]:
        return [self.scorer.prepare(inputs[i], i, source) for i in indices]

    async def prepare(self, inputs: Sequence[ScoreInput], source: str) -> list[PreparedItem]:
        """Sizes checked first, then tokenized chunk by chunk: one chunk of a request in the helper thread at a
        time, so the chunks of concurrent requests take turns."""
        for i, item in enumerate(inputs):
            self.check_size(item, i, source)
        loop = asyncio.get_running_loop()
        prepared: list[PreparedItem] = []
        for indices in prepare_chunks(inputs):
            prepared += await loop.run_in_executor(self.prepare_pool, self._prepare, inputs, indices, source)
        return prepared

    def wants_normalization(self, requested: bool | None) -> bool:
        if requested and self.normalization is None:
            raise HTTPException(
                400,
                "normalize=true but the server has no normalisation statistics (start it "
                "with --norm-mean/--norm-std or --calibration)",
            )
        return self.normalization is not None if requested is None else requested

    async def rewards(
        self, inputs: Sequence[ScoreInput], source: str, normalize: bool, usage: list[int] | None = None
    ) -> tuple[list[float], list[bool]]:
        """Rewards of the inputs and which of them were truncated to the length limit; `usage` (when given)
        receives each item's token count."""
        prepared = await self.prepare(inputs, source)
        if usage is not None:
            usage.extend(p.num_tokens for p in prepared)
        try:
            rewards = await self.batcher.submit(prepared)
        except Overloaded as e:
            raise HTTPException(503, f"server busy: {e}", headers={"Retry-After": "1"}) from e
        except ShuttingDown as e:
            raise HTTPException(503, str(e), headers={"Retry-After": "5"}) from e
        except ItemFailed as e:
            raise item_failed(source, e.index, e.error) from e
        if normalize:
            rewards = self.normalization.apply(rewards)
            for i, reward in enumerate(rewards):
                if not math.isfinite(reward):
                    raise item_failed(
                        source,
                        i,
                        ItemError(
                            f"the normalised reward is not finite ({reward})", status=422, kind="non_finite_reward"
                        ),
                    )
        return rewards, [p.truncated for p in prepared]

    def info(self) -> dict[str, Any]:
        return {
            "reward": self.scorer.info(),
            "normalization": self.normalization.as_dict() if self.normalization else None,
            "limits": dataclasses.asdict(self.config.limits),
            "batching": dataclasses.asdict(self.config.batching),
            "stats": {**self.batcher.stats, **getattr(self.scorer, "work", {})},
        }


def item_failed(source: str, index: int, error: ItemError) -> HTTPException:
    """The reply for a request one of whose items could not be scored: 500 / 422 naming the item."""
    return HTTPException(
        error.status,
        [{"loc": ["body", source, index], "type": error.kind, "msg": f"{source}, record {index}: {error}"}],
    )


def create_app(
    scorer: BatchScorer,
    config: ServerConfig | None = None,
    *,
    token: str | None = None,
    normalization: Normalization | None = None,
) -> FastAPI:
    """The FastAPI app serving `scorer`; routes other than /health need `token` as a bearer token when set."""
    service = ScoringService(scorer, config or ServerConfig(), normalization)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="rewardkit reward server", version=__version__, lifespan=lifespan, redoc_url=None, description=__doc__
    )
    app.state.service = service
    config = service.config
    app.add_middleware(
        RequestGuard,
        token=token,
        max_body_bytes=config.limits.max_body_bytes,
        body_timeout_s=config.body_timeout_s,
        max_buffered_bytes=config.limits.max_buffered_bytes,
        max_header_bytes=config.max_header_bytes,
    )
    auth = bearer_auth(token)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the input back, which fails on lone surrogates and bloats the reply
        return json_response(
            422,
            [
                {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                for e in exc.errors()
            ],
        )

    @app.exception_handler(DataError)
    async def invalid_item(_: Request, exc: DataError) -> Response:
        loc = [
            "body",
            exc.source or "body",
            *([exc.index] if exc.index is not None else []),
            *([exc.field] if exc.field else []),
        ]
        return json_response(422, [{"loc": loc, "msg": str(exc), "type": "invalid_item"}])

    @app.post(
        "/score", response_model=ScoreResponse, dependencies=[*auth, service.count_guard("items")], responses=ERRORS
    )
    async def score(request: ScoreRequest) -> ScoreResponse:
        """Rewards of (prompt, response) items, in order."""
        normalize = service.wants_normalization(request.normalize)
        items = [
            PlainText(item.text)
            if isinstance(item, TextItem)
            else Conversation(*parse_item(item.model_dump(exclude_none=True), i, "items"))
            for i, item in enumerate(request.items)
        ]
        rewards, truncated = await service.rewards(items, "items", normalize)
        return ScoreResponse(rewards=rewards, normalized=normalize, truncated=truncated)

    @app.post(
        "/get_reward",
        response_model=RewardResponse,
        dependencies=[*auth, service.count_guard("query")],
        responses=ERRORS,
    )
    async def get_reward(request: RewardRequest) -> RewardResponse:
        """OpenRLHF remote reward model: each query is a full conversation rendered with the chat template."""
        normalize = service.wants_normalization(None)
        rewards, truncated = await service.rewards([RenderedText(q) for q in request.query], "query", normalize)
        return RewardResponse(
            rewards=rewards,
            scores=rewards,
            truncated=truncated,
            extra_logs={"truncated": [float(t) for t in truncated]},
        )

    add_pooling_routes(app, service, auth, ERRORS)

    @app.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        return HealthResponse(status="ok", pending=service.batcher.pending)

    @app.get("/info", response_model=InfoResponse, dependencies=auth, responses={401: ERRORS[401]})
    async def info() -> InfoResponse:
        return InfoResponse(**service.info())

    return app
