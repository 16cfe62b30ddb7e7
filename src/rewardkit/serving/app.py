"""The reward server's ASGI application (FastAPI).

  POST /score       {"items": [{"prompt", "response"} | {"messages"} | {"text"}], "normalize"?}
                    → {"rewards", "normalized", "truncated"}
  POST /get_reward  OpenRLHF remote RM: {"query": [rendered conversations]} → {"rewards", "scores", "truncated",
                    "extra_logs": {"truncated"}}
  GET  /health      liveness (no auth)
  GET  /info        model, objective, normalisation, limits, batching statistics
  GET  /openapi.json, /docs

Bad input is a 4xx: 422 with FastAPI's {"detail": [{"loc", "msg", "type"}]} naming the item and field, 413
naming the limit, 401 for the token, 400 for an unreadable body; a full queue is 503 with Retry-After.
Items are tokenized in one helper thread and scored by the dynamic batcher.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Sequence

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from rewardkit import __version__
from rewardkit.data.record import DataError
from rewardkit.data.score_items import parse_item
from rewardkit.serving.batching import DynamicBatcher, Overloaded, ShuttingDown
from rewardkit.serving.config import ServerConfig
from rewardkit.serving.normalization import Normalization
from rewardkit.serving.schemas import (ErrorResponse, HealthResponse, InfoResponse, RewardRequest, RewardResponse,
                                       ScoreRequest, ScoreResponse, TextItem)
from rewardkit.serving.scorer import BatchScorer, Conversation, PlainText, RenderedText, ScoreInput
from rewardkit.serving.security import BodySizeLimit, bearer_auth

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "unreadable body, or normalisation asked of a server without it"},
    401: {"model": ErrorResponse, "description": "missing or invalid bearer token"},
    413: {"model": ErrorResponse, "description": "body or batch over the server's limits"},
    503: {"model": ErrorResponse, "description": "queue full or shutting down; retry after Retry-After seconds"},
}


def json_response(status: int, detail: Any) -> Response:
    """An error reply in FastAPI's shape, ASCII-escaped so that no input can break its encoding."""
    return Response(json.dumps({"detail": detail}, ensure_ascii=True), status_code=status,
                    media_type="application/json")


class ScoringService:
    """Request items → rewards: limits, preparation in a helper thread, dynamic batching, normalisation."""

    def __init__(self, scorer: BatchScorer, config: ServerConfig, normalization: Normalization | None):
        self.scorer = scorer
        self.config = config
        self.normalization = normalization
        self.batcher = DynamicBatcher(scorer.score, config.batching)
        self.prepare_pool: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self.prepare_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardkit-prepare")
        await self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()
        self.prepare_pool.shutdown(wait=True)

    def check_count(self, count: int) -> None:
        if count > self.config.limits.max_items:
            raise HTTPException(413, f"{count} items exceed the limit of {self.config.limits.max_items} per request")

    def wants_normalization(self, requested: bool | None) -> bool:
        if requested and self.normalization is None:
            raise HTTPException(400, "normalize=true but the server has no normalisation statistics (start it "
                                     "with --norm-mean/--norm-std or --calibration)")
        return self.normalization is not None if requested is None else requested

    async def rewards(self, inputs: Sequence[ScoreInput], source: str,
                      normalize: bool) -> tuple[list[float], list[bool]]:
        """Rewards of the inputs and which of them were truncated to the length limit."""
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(
            self.prepare_pool, lambda: [self.scorer.prepare(x, i, source) for i, x in enumerate(inputs)])
        try:
            rewards = await self.batcher.submit(prepared)
        except Overloaded as e:
            raise HTTPException(503, f"server busy: {e}", headers={"Retry-After": "1"}) from e
        except ShuttingDown as e:
            raise HTTPException(503, str(e), headers={"Retry-After": "5"}) from e
        truncated = [p.truncated for p in prepared]
        return (self.normalization.apply(rewards) if normalize else rewards), truncated

    def info(self) -> dict[str, Any]:
        return {"reward": self.scorer.info(),
                "normalization": self.normalization.as_dict() if self.normalization else None,
                "limits": dataclasses.asdict(self.config.limits),
                "batching": dataclasses.asdict(self.config.batching),
                "stats": dict(self.batcher.stats)}


def create_app(scorer: BatchScorer, config: ServerConfig | None = None, *, token: str | None = None,
               normalization: Normalization | None = None) -> FastAPI:
    """The FastAPI app serving `scorer`; routes other than /health need `token` as a bearer token when set."""
    service = ScoringService(scorer, config or ServerConfig(), normalization)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="rewardkit reward server", version=__version__, lifespan=lifespan, redoc_url=None,
                  description=__doc__)
    app.state.service = service
    app.add_middleware(BodySizeLimit, max_bytes=service.config.limits.max_body_bytes)
    auth = bearer_auth(token)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default echoes the input back, which fails on lone surrogates and bloats the reply
        return json_response(422, [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
                                    "type": str(e.get("type", ""))} for e in exc.errors()])

    @app.exception_handler(DataError)
    async def invalid_item(_: Request, exc: DataError) -> Response:
        loc = ["body", exc.source or "body", *([exc.index] if exc.index is not None else []),
               *([exc.field] if exc.field else [])]
        return json_response(422, [{"loc": loc, "msg": str(exc), "type": "invalid_item"}])

    @app.post("/score", response_model=ScoreResponse, dependencies=auth, responses=ERRORS)
    async def score(request: ScoreRequest) -> ScoreResponse:
        """Rewards of (prompt, response) items, in order."""
        service.check_count(len(request.items))
        normalize = service.wants_normalization(request.normalize)
        items = [PlainText(item.text) if isinstance(item, TextItem)
                 else Conversation(*parse_item(item.model_dump(exclude_none=True), i, "items"))
                 for i, item in enumerate(request.items)]
        rewards, truncated = await service.rewards(items, "items", normalize)
        return ScoreResponse(rewards=rewards, normalized=normalize, truncated=truncated)

    @app.post("/get_reward", response_model=RewardResponse, dependencies=auth, responses=ERRORS)
    async def get_reward(request: RewardRequest) -> RewardResponse:
        """OpenRLHF remote reward model: each query is a full conversation rendered with the chat template."""
        service.check_count(len(request.query))
        normalize = service.wants_normalization(None)
        rewards, truncated = await service.rewards([RenderedText(q) for q in request.query], "query", normalize)
        return RewardResponse(rewards=rewards, scores=rewards, truncated=truncated,
                              extra_logs={"truncated": [float(t) for t in truncated]})

    @app.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        return HealthResponse(status="ok", pending=service.batcher.pending)

    @app.get("/info", response_model=InfoResponse, dependencies=auth, responses={401: ERRORS[401]})
    async def info() -> InfoResponse:
        return InfoResponse(**service.info())

    return app
