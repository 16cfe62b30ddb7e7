"""Configuration of `rewardkit serve`: what is scored, how requests are limited and batched, where it listens.

Every leaf is a command-line flag (rewardkit.config): `--max-batch 64`, `--host 0.0.0.0`, or a YAML file via
`--config`. The bearer token itself never lives in a config: it comes from `token_file` or the
REWARDKIT_SERVE_TOKEN environment variable.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from rewardkit.config import ConfigError, option
from rewardkit.models.reward_model import DTYPES

TOKEN_ENV = "REWARDKIT_SERVE_TOKEN"
LOOPBACK_NAMES = ("localhost", "ip6-localhost")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
REWARD_KINDS = ("reward", "implicit")
OVER_LENGTH = ("reject", "truncate")
MIN_NORM_STD = 1e-6  # a smaller std would blow finite rewards up to inf (1e-320 turns every reward into null)


@dataclass
class ScoringConfig:
    """Which reward the server returns and what it does with sequences over the length limit."""

    max_length: int | None = option(
        None, "Tokens per conversation (prompt + response); none: the model's training max length."
    )
    reference: str | None = option(
        None, "Reference policy of a DPO / HaF export's implicit reward; none: the one recorded at training."
    )
    reward: str | None = option(
        None,
        "Which reward to serve; none: the model's primary one (the reward head, or "
        "the implicit reward of DPO exports).",
        choices=REWARD_KINDS,
    )
    over_length: str = option(
        "reject",
        "/score items over max_length: reject (HTTP 422) or truncate (oldest prompt turns, then the response's end).",
        choices=OVER_LENGTH,
    )
    query_over_length: str = option(
        "truncate",
        "/get_reward queries over max_length: truncate from the left (flagged in the reply) or reject (HTTP 422).",
        choices=OVER_LENGTH,
    )
    dtype: str = option("float32", "Weights' dtype for scoring.", choices=DTYPES)
    threads: int | None = option(None, "torch intra-op threads for scoring; none: torch's default (one per core).")

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, not {self.threads}")
        if self.max_length is not None and self.max_length < 8:
            raise ValueError(f"max_length must be >= 8, not {self.max_length}")
        if self.reward not in (None, *REWARD_KINDS):
            raise ValueError(f"reward must be one of {REWARD_KINDS}, not {self.reward!r}")
        for name in ("over_length", "query_over_length"):
            if getattr(self, name) not in OVER_LENGTH:
                raise ValueError(f"{name} must be one of {OVER_LENGTH}, not {getattr(self, name)!r}")


@dataclass
class NormalizationConfig:
    """Optional z-normalisation (reward - mean) / std: given, or measured on a calibration file at startup."""

    norm_mean: float | None = option(None, "Mean subtracted from every reward (with norm_std).")
    norm_std: float | None = option(None, "Std every reward is divided by (with norm_mean).")
    calibration: str | None = option(
        None, "JSON lines in `rewardkit score` input format, scored at startup for the mean and std."
    )
    from_model: bool = option(
        False,
        "Use the reward mean and std stored in the model's config.json (OpenRLHF's "
        "mean / std keys; rewardkit exports write the training data's).",
    )

    def __post_init__(self) -> None:
        given = (self.norm_mean is not None, self.norm_std is not None)
        if any(given) and not all(given):
            raise ValueError("normalisation needs both norm_mean and norm_std")
        if sum((all(given), bool(self.calibration), self.from_model)) > 1:
            raise ValueError("give only one of: norm_mean/norm_std, a calibration file, from_model")
        if self.norm_std is not None and not (math.isfinite(self.norm_std) and self.norm_std >= MIN_NORM_STD):
            raise ValueError(f"norm_std must be a finite number >= {MIN_NORM_STD:g}, not {self.norm_std}")
        if self.norm_mean is not None and not math.isfinite(self.norm_mean):
            raise ValueError(f"norm_mean must be finite, not {self.norm_mean}")

    @property
    def enabled(self) -> bool:
        return self.norm_mean is not None or bool(self.calibration) or self.from_model


@dataclass
class LimitsConfig:
    """Per-request limits, checked before the work they bound; exceeding one is a 4xx naming the limit."""

    max_body_bytes: int = option(
        8 * 1024 * 1024, "Largest request body accepted, declared or streamed (HTTP 413 beyond)."
    )
    max_items: int = option(
        256, "Most items (or queries) per request, counted before the items are validated (HTTP 413 beyond)."
    )
    max_messages: int = option(64, "Most chat messages per item (HTTP 422 beyond).")
    max_item_chars: int | None = option(
        None,
        "Most characters per item, checked before tokenizing (HTTP 422 beyond, or cut with truncation); "
        "default: what max_length tokens can hold at most (max_length x the tokenizer's longest token; "
        "rendered queries twice that).",
    )
    max_buffered_bytes: int = option(
        256 * 1024 * 1024, "Request bodies held at once by all requests together (HTTP 503 beyond)."
    )

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be >= 1024, not {self.max_body_bytes}")
        if self.max_items < 1:
            raise ValueError(f"max_items must be >= 1, not {self.max_items}")
        if self.max_messages < 2:
            raise ValueError(f"max_messages must be >= 2, not {self.max_messages}")
        if self.max_item_chars is not None and self.max_item_chars < 1:
            raise ValueError(f"max_item_chars must be >= 1 or null, not {self.max_item_chars}")
        if self.max_buffered_bytes < self.max_body_bytes:
            raise ValueError(
                f"max_buffered_bytes ({self.max_buffered_bytes}) must be >= max_body_bytes ({self.max_body_bytes})"
            )


@dataclass
class BatchingConfig:
    """Dynamic batching: items of concurrent requests share forward passes."""

    max_batch: int = option(32, "Most sequences per forward pass.")
    max_tokens: int = option(
        16384, "Most packed tokens per forward pass (a prompt shared by several items of the batch counts once)."
    )
    wait_ms: float = option(5.0, "How long the first item of a batch waits for company, in milliseconds.")
    max_queue: int = option(4096, "Items accepted and not yet answered; beyond this requests get 503 + Retry-After.")

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, not {self.max_batch}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, not {self.max_tokens}")
        if not (0 <= self.wait_ms <= 10_000):
            raise ValueError(f"wait_ms must be within [0, 10000], not {self.wait_ms}")
        if self.max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, not {self.max_queue}")


@dataclass
class ServerConfig:
    """Where the server listens and how it stops."""

    host: str = option("127.0.0.1", "Address to listen on; beyond loopback a bearer token is required.")
    port: int = option(8000, "Port to listen on.")
    token_file: str | None = option(None, "File holding the bearer token; none: $REWARDKIT_SERVE_TOKEN, if set.")
    graceful_timeout_s: float = option(30.0, "On SIGTERM / SIGINT: how long in-flight requests may take to finish.")
    log_level: str = option("info", "uvicorn's log level.", choices=LOG_LEVELS)
    max_connections: int = option(256, "Open connections at once (uvicorn's limit_concurrency); beyond: HTTP 503.")
    header_timeout_s: float = option(
        10.0,
        "The request line and headers must arrive within this many seconds "
        "(else HTTP 408 and the connection is closed).",
    )
    body_timeout_s: float = option(
        30.0, "The whole body must arrive within this many seconds after the headers (else HTTP 408)."
    )
    keep_alive_s: float = option(5.0, "An idle kept-alive connection is closed after this many seconds.")
    max_header_bytes: int = option(
        16 * 1024, "Largest request line + headers (HTTP 431 beyond, or 400 while still incomplete)."
    )
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    batching: BatchingConfig = field(default_factory=BatchingConfig)

    def __post_init__(self) -> None:
        if not (0 <= self.port <= 65535):
            raise ValueError(f"port must be within [0, 65535], not {self.port}")
        for name in ("graceful_timeout_s", "header_timeout_s", "body_timeout_s", "keep_alive_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, not {self.max_connections}")
        if self.max_header_bytes < 1024:
            raise ValueError(f"max_header_bytes must be >= 1024, not {self.max_header_bytes}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {LOG_LEVELS}, not {self.log_level!r}")


@dataclass
class ServeConfig:
    """`rewardkit serve`: a model (checkpoint dir, alias or hub id) or a reward YAML (hierarchical / weighted
    combinations, docs/alarm.md), plus how to score and serve it."""

    model: str = option("", "Reward model to serve: a checkpoint directory with a trained head, an alias or a hub id.")
    reward_config: str = option("", "A reward YAML (rewardkit.rewards, docs/alarm.md) served instead of a model.")
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    server: ServerConfig = field(default_factory=ServerConfig)

    def __post_init__(self) -> None:
        if bool(self.model) == bool(self.reward_config):
            raise ValueError("give either --model (checkpoint dir, alias or hub id) or --reward-config (a reward YAML)")
        norm = self.normalization
        if self.reward_config and norm.enabled:
            raise ValueError(
                "--reward-config: the reward YAML normalises its own components (stats_file); "
                "the server's normalisation flags apply to --model only"
            )


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other host name may resolve to a reachable address


def resolve_token(token_file: str | None) -> str | None:
    """The bearer token from `token_file` or $REWARDKIT_SERVE_TOKEN; None when neither is set."""
    if token_file:
        path = Path(token_file)
        if not path.is_file():  # the path is not repeated: it may be the token itself, pasted by mistake
            raise ConfigError(f"token_file: no such file (a path of {len(token_file)} characters, not shown)")
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise ConfigError(f"token_file {token_file} is empty")
    else:
        token = os.environ.get(TOKEN_ENV, "").strip() or None
    if token is not None and len(token) < 16:
        raise ConfigError("the bearer token must have at least 16 characters")
    return token


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a bearer token."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"binding {host} exposes the server beyond this machine: set a bearer token with "
            f"--token-file or ${TOKEN_ENV} (or bind 127.0.0.1)"
        )
