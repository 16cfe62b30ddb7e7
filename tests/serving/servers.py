"""Serving test helpers: exported tiny reward models (fixed heads, so separate loads agree), apps, live servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi.testclient import TestClient

from rewardkit.serving.app import create_app
from rewardkit.serving.config import ServerConfig
from rewardkit.serving.normalization import Normalization
from rewardkit.serving.scorer import BatchScorer

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def app_client(
    scorer: BatchScorer,
    config: ServerConfig | None = None,
    *,
    token: str | None = TOKEN,
    normalization: Normalization | None = None,
) -> Iterator[TestClient]:
    """A TestClient with the app's lifespan (batcher) running."""
    app = create_app(scorer, config, token=token, normalization=normalization)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def live_server(
    scorer: BatchScorer, config: ServerConfig | None = None, *, token: str | None = TOKEN
) -> Iterator[LiveServer]:
    """A real uvicorn server on a free loopback port, in a thread."""
    from rewardkit.serving.server import uvicorn_server

    config = config or ServerConfig(log_level="warning")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn_server(create_app(scorer, config, token=token), config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def post_concurrently(url: str, path: str, bodies: list[dict]) -> list[httpx.Response]:
    """POST every body to `url + path` at once, each from its own thread (its own request), as concurrent RL clients
    do; the replies in body order."""
    replies: list[httpx.Response | None] = [None] * len(bodies)

    def call(i: int) -> None:
        replies[i] = httpx.post(f"{url}{path}", json=bodies[i], headers=AUTH, timeout=30)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies
