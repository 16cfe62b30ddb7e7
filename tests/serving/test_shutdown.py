"""Graceful shutdown: a request in flight when the server is told to stop still gets its rewards.

In-process (uvicorn's exit flag, as its SIGTERM handler sets it) in the default run; `rewardkit serve` as a
real process receiving SIGTERM under -m slow (the subprocess spends most of its time importing torch).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from rewardkit.serving.config import TOKEN_ENV, BatchingConfig, ServerConfig
from rewardkit.serving.scorer import ModelBatchScorer

from .servers import AUTH, TOKEN, live_server

READY = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class ServerProcess:
    """`rewardkit serve` in a subprocess; stderr is collected in the background."""

    def __init__(self, *args: str):
        env = dict(os.environ, **{TOKEN_ENV: TOKEN})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rewardkit.cli.main", "serve", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.port: int | None = None
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            match = READY.search(line)
            if match:
                self.port = int(match.group(1))
                self.ready.set()

    def wait_ready(self, timeout: float) -> str:
        if not self.ready.wait(timeout):
            raise AssertionError("server did not start:\n" + "".join(self.lines[-30:]))
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


ITEMS = [{"prompt": "What is 2+2?", "response": "4"}, {"prompt": "Say hi", "response": "Hi!"}]


def offline(scorer) -> list[float]:
    return scorer.score([[{"role": "user", "content": i["prompt"]}] for i in ITEMS], [i["response"] for i in ITEMS])[
        "rewards"
    ].tolist()


def post_in_background(url: str, result: dict) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: result.setdefault(
            "r", httpx.post(f"{url}/score", json={"items": ITEMS}, headers=AUTH, timeout=60)
        )
    )
    thread.start()
    return thread


def test_stopping_lets_the_request_in_flight_finish(scorer):
    config = ServerConfig(log_level="warning", batching=BatchingConfig(wait_ms=1000))
    result: dict[str, httpx.Response] = {}
    with live_server(ModelBatchScorer(scorer), config) as live:
        thread = post_in_background(live.url, result)
        time.sleep(0.3)  # the request now waits in the 1 s batching window
        assert httpx.get(f"{live.url}/health").json()["pending"] == 2
        live.server.should_exit = True  # what uvicorn's SIGTERM / SIGINT handler does
        thread.join(timeout=30)
        live.thread.join(timeout=30)
        assert not live.thread.is_alive()
    assert result["r"].status_code == 200, result["r"].text
    assert result["r"].json()["rewards"] == pytest.approx(offline(scorer), abs=1e-5)


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(tiny_rm_dir, scorer):
    server = ServerProcess("--model", str(tiny_rm_dir), "--port", "0", "--wait-ms", "1500")
    try:
        url = server.wait_ready(timeout=180)
        result: dict[str, httpx.Response] = {}
        thread = post_in_background(url, result)
        time.sleep(0.5)  # the request now waits in the 1.5 s batching window
        server.proc.send_signal(signal.SIGTERM)
        thread.join(timeout=60)
        server.proc.wait(timeout=60)
    finally:
        server.close()
    response = result["r"]
    assert response.status_code == 200, response.text
    assert response.json()["rewards"] == pytest.approx(offline(scorer), abs=1e-5)
    log = "".join(server.lines)
    assert (
        log.index("Shutting down")
        < log.index("Waiting for connections to close")
        < log.index("Finished server process")
    )  # the request was in flight at SIGTERM, and uvicorn waited for it
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=5)
