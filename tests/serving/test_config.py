"""Serve configuration: safe exposure rules, token sources, validation, command-line flags."""

from __future__ import annotations

import pytest

from rewardkit.cli.main import build_parser, main
from rewardkit.config import ConfigError, load_config
from rewardkit.serving.config import (
    TOKEN_ENV,
    BatchingConfig,
    LimitsConfig,
    NormalizationConfig,
    ScoringConfig,
    ServeConfig,
    ServerConfig,
    check_exposure,
    is_loopback,
    resolve_token,
)


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_a_token():
    check_exposure("127.0.0.1", None)
    check_exposure("0.0.0.0", "a-long-enough-token-123")
    with pytest.raises(ConfigError, match="bearer token"):
        check_exposure("0.0.0.0", None)


def test_token_from_file_or_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert resolve_token(None) is None
    monkeypatch.setenv(TOKEN_ENV, "from-the-environment-1234")
    assert resolve_token(None) == "from-the-environment-1234"
    file = tmp_path / "token"
    file.write_text("from-a-file-0123456789\n")
    assert resolve_token(str(file)) == "from-a-file-0123456789"
    file.write_text("short")
    with pytest.raises(ConfigError, match="16 characters"):
        resolve_token(str(file))
    with pytest.raises(ConfigError, match="no such file") as raised:
        resolve_token(str(tmp_path / "missing"))
    assert "missing" not in str(raised.value)  # the path may be the token pasted by mistake: never echoed


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: BatchingConfig(max_batch=0), "max_batch"),
        (lambda: BatchingConfig(wait_ms=-1), "wait_ms"),
        (lambda: LimitsConfig(max_items=0), "max_items"),
        (lambda: ScoringConfig(reward="best"), "reward"),
        (lambda: ScoringConfig(threads=0), "threads"),
        (lambda: ScoringConfig(over_length="drop"), "over_length"),
        (lambda: NormalizationConfig(norm_mean=0.0), "both"),
        (lambda: NormalizationConfig(norm_mean=0.0, norm_std=0.0), ">= 1e-06"),
        (lambda: NormalizationConfig(norm_mean=0.0, norm_std=1e-320), ">= 1e-06"),
        (lambda: NormalizationConfig(norm_mean=0.0, norm_std=1.0, calibration="c.jsonl"), "only one of"),
        (lambda: ServerConfig(port=70000), "port"),
        (lambda: ServerConfig(log_level="loud"), "log_level"),
        (lambda: ServeConfig(), "either --model"),
        (lambda: ServeConfig(model="m", reward_config="r.yaml"), "either --model"),
    ],
)
def test_invalid_settings_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_every_setting_is_a_flag():
    args = build_parser().parse_args(
        [
            "serve",
            "--model",
            "m",
            "--max-batch",
            "8",
            "--wait-ms",
            "2.5",
            "--norm-mean",
            "0.5",
            "--norm-std",
            "2",
            "--host",
            "::1",
            "--max-items",
            "3",
            "--over-length",
            "truncate",
        ]
    )
    config = load_config(ServeConfig, args)
    assert config.model == "m" and config.server.host == "::1" and config.server.limits.max_items == 3
    assert config.server.batching.max_batch == 8 and config.server.batching.wait_ms == 2.5
    assert (config.normalization.norm_mean, config.normalization.norm_std) == (0.5, 2.0)
    assert config.scoring.over_length == "truncate"


def test_serve_refuses_a_public_address_without_token_before_loading(monkeypatch, capsys):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert main(["serve", "--model", "no-such-model", "--host", "0.0.0.0"]) == 2
    assert "bearer token" in capsys.readouterr().err
