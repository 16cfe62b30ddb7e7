"""Serve a reward model over HTTP for RL and data pipelines (FastAPI + uvicorn, dynamic batching).

  rewardkit serve --model runs/quickstart/export --port 8000
  rewardkit serve --reward-config configs/alarm/suite.yaml      # a hierarchical reward (docs/alarm.md)
  REWARDKIT_SERVE_TOKEN=$(cat token) rewardkit serve --model runs/bt/export --host 0.0.0.0 --norm-mean 0.1 --norm-std 2

Endpoints: POST /score, POST /get_reward (OpenRLHF), GET /health, GET /info, GET /openapi.json.
Binds 127.0.0.1 by default; any other address needs a bearer token (--token-file or $REWARDKIT_SERVE_TOKEN).
See docs/serving.md.
"""

from __future__ import annotations

import argparse

HELP = "serve a reward model over HTTP (/score, OpenRLHF /get_reward)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rewardkit.config import add_config_flags
    from rewardkit.serving.config import ServeConfig

    add_config_flags(parser, ServeConfig)


def run(args: argparse.Namespace) -> int:
    from rewardkit.config import load_config
    from rewardkit.serving.config import ServeConfig
    from rewardkit.serving.server import serve

    serve(load_config(ServeConfig, args))
    return 0
