"""Run the reward server with uvicorn: load the model, measure normalisation, listen, shut down gracefully.

On SIGTERM / SIGINT uvicorn stops accepting connections, lets in-flight requests finish (up to
`graceful_timeout_s`), then the batcher stops.
"""

from __future__ import annotations

import logging

import torch
import uvicorn
from fastapi import FastAPI

from rewardkit.config import ConfigError
from rewardkit.serving.app import create_app
from rewardkit.serving.config import ServeConfig, ServerConfig, check_exposure, resolve_token
from rewardkit.serving.normalization import build_normalization
from rewardkit.serving.scorer import BatchScorer, FunctionBatchScorer, ModelBatchScorer
from rewardkit.serving.security import guarded_protocol

log = logging.getLogger("rewardkit.serving")


def load_model_scorer(config: ServeConfig) -> ModelBatchScorer:
    """The batch scorer of a checkpoint, alias or hub id, as `rewardkit score` would load it."""
    from rewardkit.evaluation.evaluate import load_scorer

    scoring = config.scoring
    if scoring.threads is not None:
        torch.set_num_threads(scoring.threads)
    scorer = load_scorer(config.model, max_length=scoring.max_length, reference=scoring.reference, dtype=scoring.dtype)
    try:
        return ModelBatchScorer(
            scorer, reward=scoring.reward, over_length=scoring.over_length, query_over_length=scoring.query_over_length
        )
    except ValueError as e:
        raise ConfigError(str(e)) from e


def load_reward_scorer(path: str) -> FunctionBatchScorer:
    """A reward YAML (hierarchical / holistic / aspects / weighted) as a batch scorer. Its normalised components
    need calibration stats already (measured by `rewardkit bon`, `rl` or `select-aspects`): a server must return
    the same reward for the same item whatever else is in its batch, so it never calibrates on requests."""
    from rewardkit.rewards.config import load_reward

    reward = load_reward(path)
    missing = reward.missing_stats()
    if missing:
        raise ConfigError(
            f"{path}: components {missing} are normalised but have no calibration stats in "
            f"{reward.stats_file}; measure them first (rewardkit bon / rl / select-aspects)"
        )

    def score(items: list[tuple[list, str]]) -> list[float]:
        return reward([p for p, _ in items], [r for _, r in items])

    info = {
        "reward_config": str(path),
        "reward": reward.name,
        "combine": reward.settings.mode,
        "components": reward.component_names(),
        "normalized": sorted(reward.stats),
    }
    return FunctionBatchScorer(score, info)


def load_batch_scorer(config: ServeConfig) -> BatchScorer:
    return load_reward_scorer(config.reward_config) if config.reward_config else load_model_scorer(config)


def uvicorn_server(app: FastAPI, config: ServerConfig) -> uvicorn.Server:
    """uvicorn on h11 with the connection limit, the keep-alive timeout, the request-head size limit and the
    request-head deadline of `config` (serving/security.py)."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=config.log_level,
            lifespan="on",
            timeout_graceful_shutdown=config.graceful_timeout_s,
            server_header=False,
            proxy_headers=False,
            http=guarded_protocol(config.header_timeout_s),
            limit_concurrency=config.max_connections,
            timeout_keep_alive=config.keep_alive_s,
            h11_max_incomplete_event_size=config.max_header_bytes,
        )
    )


def serve(config: ServeConfig) -> None:
    """Load, then serve on config.server.host:port until SIGTERM / SIGINT."""
    token = resolve_token(config.server.token_file)
    check_exposure(config.server.host, token)  # before the (slow) model load
    scorer = load_batch_scorer(config)
    normalization = build_normalization(config.normalization, scorer, batch_size=config.server.batching.max_batch)
    if normalization is not None:
        log.info(
            "normalising rewards with mean %.4f, std %.4f (%s)",
            normalization.mean,
            normalization.std,
            normalization.source,
        )
    app = create_app(scorer, config.server, token=token, normalization=normalization)
    server = uvicorn_server(app, config.server)
    log.info(
        "serving %s on http://%s:%d (auth: %s)",
        config.model or config.reward_config,
        config.server.host,
        config.server.port,
        "bearer token" if token else "none, loopback only",
    )
    server.run()
