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

from rewardkit.config import ConfigError

TOKEN_ENV = "REWARDKIT_SERVE_TOKEN"
LOOPBACK_NAMES = ("localhost", "ip6-localhost")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
MIN_NORM_STD = 1e-6  # a smaller std would blow finite rewards up to inf (1e-320 turns every reward into null)


@dataclass
class ScoringConfig:
    """Which reward the server returns and what it does with sequences over the length limit."""

    max_length: int | None = None  # tokens per (prompt + response); default: the model's training max length
    reference: str | None = None  # reference policy for implicit rewards (DPO / HaF exports)
    reward: str | None = None  # reward | implicit; default: the model's primary reward
    over_length: str = "reject"  # reject (HTTP 422) | truncate (oldest prompt turns, then the response's end)
    dtype: str = "float32"
    threads: int | None = None  # torch intra-op threads for scoring; default: torch's (one per core)

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, not {self.threads}")
        if self.max_length is not None and self.max_length < 8:
            raise ValueError(f"max_length must be >= 8, not {self.max_length}")
        if self.reward not in (None, "reward", "implicit"):
            raise ValueError(f"reward must be 'reward' or 'implicit', not {self.reward!r}")
        if self.over_length not in ("reject", "truncate"):
            raise ValueError(f"over_length must be 'reject' or 'truncate', not {self.over_length!r}")


@dataclass
class NormalizationConfig:
    """Optional z-normalisation (reward - mean) / std: given, or measured on a calibration file at startup."""

    norm_mean: float | None = None
    norm_std: float | None = None
    calibration: str | None = None  # JSON lines in `rewardkit score` input format

    def __post_init__(self) -> None:
        given = (self.norm_mean is not None, self.norm_std is not None)
        if any(given) and not all(given):
            raise ValueError("normalisation needs both norm_mean and norm_std")
        if all(given) and self.calibration:
            raise ValueError("give either norm_mean/norm_std or a calibration file, not both")
        if self.norm_std is not None and not (math.isfinite(self.norm_std) and self.norm_std >= MIN_NORM_STD):
            raise ValueError(f"norm_std must be a finite number >= {MIN_NORM_STD:g}, not {self.norm_std}")
        if self.norm_mean is not None and not math.isfinite(self.norm_mean):
            raise ValueError(f"norm_mean must be finite, not {self.norm_mean}")

    @property
    def enabled(self) -> bool:
        return self.norm_mean is not None or bool(self.calibration)


@dataclass
class LimitsConfig:
    """Per-request limits, checked before the work they bound; exceeding one is a 4xx naming the limit."""

    max_body_bytes: int = 8 * 1024 * 1024  # declared or streamed (413)
    max_items: int = 256  # items (or queries) per request, counted before the items are validated (413)
    max_messages: int = 64  # chat messages per item (422)
    # characters per item (422), checked before tokenizing; default: what max_length tokens can hold at most
    # (max_length x the tokenizer's longest token; rendered queries twice that, for their padding), applied when
    # over-length items are rejected (with --over-length truncate, texts are cut to it instead)
    max_item_chars: int | None = None
    max_buffered_bytes: int = 256 * 1024 * 1024  # request bodies held at once by all requests (503 beyond)

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
            raise ValueError(f"max_buffered_bytes ({self.max_buffered_bytes}) must be >= max_body_bytes "
                             f"({self.max_body_bytes})")


@dataclass
class BatchingConfig:
    """Dynamic batching: items of concurrent requests share forward passes."""

    max_batch: int = 32  # sequences per forward pass
    max_tokens: int = 16384  # padded tokens per forward pass (sequences x longest)
    wait_ms: float = 5.0  # how long the first item of a batch waits for company
    max_queue: int = 4096  # items accepted and not yet answered; beyond this requests get 503 + Retry-After

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

    host: str = "127.0.0.1"
    port: int = 8000
    token_file: str | None = None  # file holding the bearer token (else $REWARDKIT_SERVE_TOKEN)
    graceful_timeout_s: float = 30.0  # on SIGTERM/SIGINT: how long in-flight requests may take to finish
    log_level: str = "info"  # uvicorn's: critical | error | warning | info | debug | trace
    max_connections: int = 256  # open connections (uvicorn's limit_concurrency); beyond: 503
    header_timeout_s: float = 10.0  # request line + headers must arrive within this (else 408, closed)
    body_timeout_s: float = 30.0  # the whole body must arrive within this after the headers (else 408)
    keep_alive_s: float = 5.0  # an idle kept-alive connection is closed after this
    max_header_bytes: int = 16 * 1024  # request line + headers (beyond: 431, or 400 while still incomplete)
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

    model: str = ""
    reward_config: str = ""  # a reward YAML (rewardkit.rewards) served instead of a model
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)
    server: ServerConfig = field(default_factory=ServerConfig)

    def __post_init__(self) -> None:
        if bool(self.model) == bool(self.reward_config):
            raise ValueError("give either --model (checkpoint dir, alias or hub id) or --reward-config (a reward YAML)")
        norm = self.normalization
        if self.reward_config and (norm.calibration or norm.norm_mean is not None or norm.norm_std is not None):
            raise ValueError("--reward-config: the reward YAML normalises its own components (stats_file); "
                             "the server's normalisation flags apply to --model only")


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
        raise ConfigError(f"binding {host} exposes the server beyond this machine: set a bearer token with "
                          f"--token-file or ${TOKEN_ENV} (or bind 127.0.0.1)")
