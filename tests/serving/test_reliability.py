"""The server under hostile or broken clients: the token is checked before the body is read, stalled heads and
bodies time out, buffered bodies are bounded, counts and sizes are refused before the work they bound, a huge
request does not hold up a small one, and an item that fails to score fails its own request only."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from urllib.parse import urlparse

import httpx
import pytest

from rewardkit.serving.config import BatchingConfig, LimitsConfig, ServerConfig
from rewardkit.serving.scorer import FunctionBatchScorer, ModelBatchScorer

from .servers import AUTH, app_client, live_server, post_concurrently


def raw(url: str, data: bytes, *, wait: float = 5.0) -> tuple[int | None, bytes]:
    """Send raw bytes on a fresh connection; (status, reply) once the server answers and closes (or `wait`)."""
    address = urlparse(url)
    reply = b""
    with socket.create_connection((address.hostname, address.port), timeout=wait) as sock:
        sock.sendall(data)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            reply += chunk
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None
    return status, reply


def head(path: str = "/score", length: int | None = None, token: bool = True) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if token:
        lines.append(f"Authorization: {AUTH['Authorization']}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture(scope="module")
def guarded(scorer):
    config = ServerConfig(
        log_level="warning",
        header_timeout_s=0.5,
        body_timeout_s=0.5,
        limits=LimitsConfig(max_body_bytes=64 * 1024, max_buffered_bytes=64 * 1024),
    )
    with live_server(ModelBatchScorer(scorer), config) as live:
        yield live.url


def test_the_token_is_checked_before_the_body_is_read(guarded):
    started = time.monotonic()
    status, reply = raw(guarded, head(length=60_000, token=False))  # the body is never sent
    assert status == 401 and b"www-authenticate: Bearer" in reply
    assert b"missing or invalid bearer token" in reply and time.monotonic() - started < 0.4  # not the body timeout


def test_a_declared_oversized_body_or_head_is_refused_before_it_is_read(guarded):
    status, reply = raw(guarded, head(length=10_000_000))
    assert status == 413 and b"exceeds the limit of 65536 bytes" in reply
    status, reply = raw(guarded, head(length=0)[:-2] + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    assert status == 431 and b"request head exceeds the limit of 16384 bytes" in reply


def test_stalled_bodies_and_heads_time_out(guarded):
    status, reply = raw(guarded, head(length=1000) + b'{"items": [')  # then nothing
    assert status == 408 and b"request body not received within 0.5 s" in reply
    status, reply = raw(guarded, b"POST /score HTTP/1.1\r\nHost: te")  # slowloris: the head never ends
    assert status == 408 and b"request headers not received in time" in reply


def test_buffered_bodies_are_bounded_across_requests(guarded):
    address = urlparse(guarded)
    with socket.create_connection((address.hostname, address.port)) as stalled:
        stalled.sendall(head(length=60_000) + b"x" * 1000)  # holds 60 kB of the 64 kB budget while it stalls
        time.sleep(0.1)
        status, reply = raw(guarded, head(length=8_000) + b"x" * 8_000)
    assert status == 503 and b"retry-after: 1" in reply
    time.sleep(0.1)  # the stalled upload disconnected: its reservation is given back
    body = json.dumps({"items": [{"prompt": "a", "response": "b"}]}).encode()
    assert raw(guarded, head(length=len(body)) + body)[0] == 200


def test_counts_and_sizes_are_refused_before_validation_and_tokenization(scorer):
    config = ServerConfig(limits=LimitsConfig(max_items=256, max_messages=8))
    with app_client(ModelBatchScorer(scorer), config) as client:
        r = client.post("/score", content=b'{"items": [' + b",".join([b"{}"] * 240_000) + b"]}", headers=AUTH)
        assert r.status_code == 413 and r.json()["detail"] == "240000 items exceed the limit of 256 per request"
        budget = ModelBatchScorer(scorer).max_chars  # 96 tokens x 13 characters (the tiny tokenizer)
        huge = "x" * (7 * 1024 * 1024)
        for item, field in [
            ({"prompt": "hi", "response": huge}, "response"),
            ({"prompt": huge, "response": "ok"}, "prompt"),
        ]:
            r = client.post("/score", json={"items": [item]}, headers=AUTH)
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "items", 0, field]
            assert f"characters exceed the limit of {budget} per item" in r.json()["detail"][0]["msg"]
        long_prompt = {"prompt": "word " * 30, "response": "ok"}  # 150 characters: > 96 tokens, < the budget
        r = client.post("/score", json={"items": [long_prompt]}, headers=AUTH)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "items", 0, "prompt"], r.json()
        chat = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 5
        r = client.post("/score", json={"items": [{"messages": chat}]}, headers=AUTH)
        assert r.status_code == 422 and "10 messages exceed the limit of 8" in r.json()["detail"][0]["msg"]
        assert client.post("/score", json={"items": [{"prompt": "a", "response": "b"}]}, headers=AUTH).is_success


def test_an_item_that_fails_fails_its_own_request_only():
    def reward(items):
        if any(response == "boom" for _, response in items):
            raise RuntimeError("boom")
        return [math.nan if response == "nan" else float(len(response)) for _, response in items]

    responses = ["a", "bb", "boom", "ccc", "nan", "dddd"]
    config = ServerConfig(log_level="warning", batching=BatchingConfig(max_batch=16, wait_ms=500))
    with live_server(FunctionBatchScorer(reward, {"model": "length"}), config) as live:
        replies = post_concurrently(
            live.url,
            "/score",
            [{"items": [{"prompt": "p", "response": "ok"}, {"prompt": "p", "response": r}]} for r in responses],
        )
        stats = httpx.get(f"{live.url}/info", headers=AUTH).json()["stats"]
    assert stats["batches"] < len(responses)  # the requests shared batches with the failing items
    for i, response in enumerate(responses):
        r = replies[i]
        if response == "boom":
            assert r.status_code == 500 and r.json()["detail"][0]["loc"] == ["body", "items", 1]
            assert r.json()["detail"][0]["msg"] == "items, record 1: scoring failed: RuntimeError: boom"
        elif response == "nan":
            assert r.status_code == 422 and r.json()["detail"][0]["type"] == "non_finite_reward"
            assert r.json()["detail"][0]["loc"] == ["body", "items", 1]
        else:
            assert r.status_code == 200 and r.json()["rewards"] == [2.0, float(len(response))], r.text


def test_a_huge_request_does_not_hold_up_a_small_one():
    order: list[str] = []

    class SlowToPrepare(FunctionBatchScorer):
        def prepare(self, item, index, source):
            order.append(item.response)
            time.sleep(0.01)
            return super().prepare(item, index, source)

    scorer = SlowToPrepare(lambda items: [1.0] * len(items), {"model": "constant"})
    with live_server(scorer, ServerConfig(log_level="warning")) as live:
        big = threading.Thread(
            target=httpx.post,
            args=(f"{live.url}/score",),
            kwargs={"json": {"items": [{"prompt": "p", "response": "big"}] * 200}, "headers": AUTH, "timeout": 30},
        )
        big.start()
        while not order:
            time.sleep(0.005)
        small = httpx.post(
            f"{live.url}/score", json={"items": [{"prompt": "p", "response": "small"}]}, headers=AUTH, timeout=30
        )
        big.join()
    assert small.status_code == 200
    assert order.index("small") < 2 * 16  # prepared after at most one more chunk of the big request, not all 200
    assert len(order) == 201
