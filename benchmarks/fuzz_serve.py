"""Fuzz a live `rewardkit serve` with what breaks servers: malformed, oversized, slow (slowloris heads, stalled
and dripping bodies), unauthenticated and concurrent requests, invalid Unicode and NaN literals, plus
schema-driven requests (schemathesis, as in tests/serving/test_fuzz.py), against a server subprocess on loopback,
on every scoring endpoint (/score, /get_reward, and verl's /classify and /v1/embeddings).

  python benchmarks/fuzz_serve.py --quick     # a tiny random reward model, short server timeouts (about a minute)
  python benchmarks/fuzz_serve.py             # more of everything, the server's default timeouts (minutes)

Every case knows its right answer: the status (a 4xx naming the problem, 401 before the body is read, 408 for a
stalled client, 413 for a limit, 503 + Retry-After for a busy server, 200 with the rewards of offline scoring).
A case is clean when it gets that answer, lost when no answer comes (timeout, reset) and wrong otherwise (a
5xx, another status, a reward that differs from offline scoring). The server's resident memory is sampled
throughout (max_rss_mb). `--baseline` omits the limit flags this version added, to measure an older server.

Prints a table per group, writes benchmarks/results/fuzz_serve[_quick].json, and ends with
  fuzz cases=<int> clean=<int> lost=<int> wrong=<int> max_rss_mb=<int>
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import close_enough, free_port, prepare_checkpoint, start_server, wait_healthy

from rewardkit.files import write_json_atomic
from rewardkit.testing.fuzzing import MALFORMED_BODIES

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
MIB = 1024 * 1024
POOLING = ("/classify", "/v1/embeddings")  # verl's endpoints: {"input": [whole conversation renders]}
READERS: dict[str, Callable[[dict], list[float]]] = {  # the rewards of a reply, as each client reads them
    "/classify": lambda body: [d["probs"][0] for d in body["data"]],
    "/v1/embeddings": lambda body: [d["embedding"][0] for d in body["data"]],
}


@dataclass
class Outcome:
    group: str
    case: str
    result: str  # clean | lost | wrong
    status: int | None
    seconds: float
    detail: str = ""


# ---- the server ------------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    token: str
    proc: subprocess.Popen
    header_timeout_s: float
    body_timeout_s: float
    max_body_bytes: int = 8 * MIB
    max_items: int = 256
    max_rss: int = 0
    _stop: bool = False

    def sample_rss(self) -> None:
        process = psutil.Process(self.proc.pid)
        while not self._stop:
            try:
                self.max_rss = max(self.max_rss, process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.url.rsplit("//", 1)[1].split(":")
        return host, int(port)


def start(checkpoint: str, args: argparse.Namespace) -> Server:
    token = secrets.token_urlsafe(24)
    port = free_port()
    header_timeout, body_timeout = (2.0, 3.0) if args.quick else (10.0, 30.0)
    options = {"log_level": "critical", "threads": 1, "max_batch": 16, "wait_ms": 5}
    if not args.baseline:
        options |= {"header_timeout_s": header_timeout, "body_timeout_s": body_timeout}
    proc = start_server(checkpoint, port, token, options, quiet=True)
    server = Server(f"http://127.0.0.1:{port}", token, proc, header_timeout, body_timeout)
    wait_healthy(server.url, proc)
    threading.Thread(target=server.sample_rss, daemon=True).start()
    return server


def stop(server: Server) -> None:
    server._stop = True
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.proc.kill()


# ---- clients ---------------------------------------------------------------------------------------
def auth(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def raw(server: Server, data: bytes, *, then: bytes = b"", wait: float, drip: float = 0.0) -> tuple[int | None, bytes]:
    """Send `data` on a fresh connection, then `then` (all at once, or a byte every `drip` s), while reading what
    comes back until the server closes or `wait` s pass (a server may answer before the upload ends and close);
    (status, reply)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + wait
    try:
        sock = socket.create_connection(server.host_port, timeout=wait)
    except OSError:
        return None, b""

    def read() -> None:
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        sock.sendall(data)
        if drip:
            for i in range(len(then)):
                if chunks or time.monotonic() > deadline:
                    break
                time.sleep(drip)
                sock.sendall(then[i : i + 1])
        elif then:
            sock.sendall(then)
    except OSError:
        pass  # the server closed the connection (having answered, or not: the reply tells)
    reader.join(max(deadline - time.monotonic(), 0) + 1)
    sock.close()
    reply = b"".join(chunks)
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None
    return status, reply


def head(
    server: Server, path: str = "/score", *, length: int | None = None, token: str | None = "", chunked: bool = False
) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: fuzz", "Content-Type: application/json", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    token = server.token if token == "" else token
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Fuzz:
    def __init__(
        self,
        server: Server,
        items: list[tuple[dict, float]],
        queries: list[tuple[str, float]],
        renders: list[tuple[str, float]],
        args: argparse.Namespace,
    ):
        self.server, self.items, self.queries, self.renders, self.args = server, items, queries, renders, args
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.http = httpx.Client(base_url=server.url, timeout=args.timeout)

    def record(self, group: str, case: str, result: str, status: int | None, started: float, detail: str = ""):
        with self.lock:
            self.outcomes.append(
                Outcome(group, case, result, status, round(time.monotonic() - started, 3), detail[:300])
            )

    def post(
        self,
        group: str,
        case: str,
        path: str,
        *,
        expect: Callable[[httpx.Response], bool] | set[int],
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """One request; clean when `expect` (a status set, or a predicate) holds and a 4xx/5xx has a JSON
        detail."""
        started = time.monotonic()
        try:
            r = self.http.post(path, headers=auth(self.server) if headers is None else headers, **kwargs)
        except httpx.HTTPError as e:
            self.record(group, case, "lost", None, started, f"{type(e).__name__}: {e}")
            return None
        ok = expect(r) if callable(expect) else r.status_code in expect
        if ok and r.status_code >= 400:
            try:
                ok = "detail" in r.json()
            except ValueError:
                ok = False
        self.record(group, case, "clean" if ok else "wrong", r.status_code, started, "" if ok else r.text)
        return r

    def rewards_match(self, expected: list[float], path: str = "/score") -> Callable[[httpx.Response], bool]:
        def check(r: httpx.Response) -> bool:
            if r.status_code != 200:
                return False
            try:
                got = READERS.get(path, lambda body: body.get("rewards"))(r.json())
            except (KeyError, IndexError, TypeError):
                return False
            return (
                isinstance(got, list)
                and len(got) == len(expected)
                and all(close_enough(g, e, self.args.tolerance) for g, e in zip(got, expected))
            )

        return check

    def raw_case(
        self,
        group: str,
        case: str,
        data: bytes,
        expect: set[int | None],
        *,
        then: bytes = b"",
        drip: float = 0.0,
        wait: float | None = None,
        must_contain: bytes = b"",
    ) -> None:
        started = time.monotonic()
        status, reply = raw(self.server, data, then=then, drip=drip, wait=wait or self.args.timeout)
        if status is None and None not in expect:
            self.record(group, case, "lost", None, started, "no reply")
            return
        ok = status in expect and must_contain in reply
        self.record(
            group, case, "clean" if ok else "wrong", status, started, "" if ok else reply[:300].decode("latin-1")
        )

    def refused_json(self, paths: tuple[str, ...], bodies: list[bytes]) -> None:
        """POST every body as JSON to every path; each must get a 4xx (a client error, not a crash)."""
        for path in paths:
            for i, body in enumerate(bodies):
                self.post(
                    "malformed",
                    f"{path} body {i}",
                    path,
                    content=body,
                    headers={**auth(self.server), "content-type": "application/json"},
                    expect=lambda r: 400 <= r.status_code < 500,
                )

    # ---- groups ----------------------------------------------------------------------------------
    def malformed(self) -> None:
        bodies = [
            *MALFORMED_BODIES,
            b'{"items": [{"prompt": "a", "response": "b", "normalise": true}]}',
            b'{"items": [{"prompt": [], "response": "b"}]}',
            b'{"items": [{"messages": []}]}',
            b'{"items": [{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}]}',
            b'{"items": {"prompt": "a", "response": "b"}}',
            b'{"items": [{"prompt": "a", "response": ["b"]}]}',
            b'{"query": "not a list"}',
            b'{"query": [1, 2]}',
            b'{"query": ["no assistant header"]}',
            b'{"items": [{"prompt": "a", "response": "b"}]}garbage',
        ]
        self.refused_json(("/score", "/get_reward"), bodies)
        pooling = [
            b"",
            b"{",
            b"[]",
            b"null",
            b"{}",
            b'{"input": 3}',
            b'{"input": [1, 2]}',
            b'{"input": [[1, 2]]}',
            b'{"input": null}',
            b'{"input": [{"text": "a"}]}',
            b'{"input": "no assistant header"}',
            b'{"input": ["no assistant header"]}',
            b'{"input": "a", "activation": "maybe"}',
            b'{"input": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
            b'{"input": "a"}garbage',
        ]
        chat = b'[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]'
        pooling += [
            b'{"input": "a", "messages": ' + chat + b"}",
            b'{"messages": [{"role": "user", "content": "a"}]}',
            b'{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}',
            b'{"messages": [{"role": "tool", "content": "x"}, {"role": "assistant", "content": "y"}]}',
        ]
        self.refused_json(POOLING, pooling)
        self.post(
            "malformed",
            "wrong content type",
            "/score",
            content=b"items=1",
            headers={**auth(self.server), "content-type": "application/x-www-form-urlencoded"},
            expect=lambda r: 400 <= r.status_code < 500,
        )
        self.raw_case(
            "malformed",
            "invalid Content-Length",
            head(self.server, length=None)[:-2] + b"Content-Length: -5\r\n\r\n",
            {400},
        )
        self.raw_case("malformed", "not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, {400})
        self.raw_case(
            "malformed",
            "head over 16 KiB",
            b"POST /score HTTP/1.1\r\nHost: fuzz\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n",
            {400, 431},
        )

    def unicode(self) -> None:
        texts = [
            "😀🚀 emoji",
            "数据 中文",
            "مرحبا بالعالم",
            "e\u0301\u0302\u0303 combining",
            "a\u200db\u200cc zero width",
            "nul \u0000 inside",
            "\ufeffbom first",
            "tab\tcr\rline\u2028sep",
            "é" * 100,
            "\u202eright to left",
        ]
        for i, text in enumerate(texts):
            expected = self.offline([{"role": "user", "content": text}], text)
            self.post(
                "unicode",
                f"valid text {i}",
                "/score",
                json={"items": [{"prompt": text, "response": text}]},
                expect=self.rewards_match([expected]),
            )
            render = self.args.scorer.encoder().renderer.conversation_text([{"role": "user", "content": text}], text)
            self.post(
                "unicode",
                f"valid text {i} /classify",
                "/classify",
                json={"input": render, "activation": False},
                expect=self.rewards_match([expected], "/classify"),
            )
        for name, body in [
            ("lone surrogate in response", '{"items": [{"prompt": "a", "response": "\\ud800"}]}'),
            ("lone surrogate in prompt", '{"items": [{"prompt": "\\udfff", "response": "b"}]}'),
            (
                "surrogate in a message",
                '{"items": [{"messages": [{"role": "user", "content": "\\ud83d"},'
                ' {"role": "assistant", "content": "x"}]}]}',
            ),
            ("lone surrogate in a query", '{"query": ["\\ud800"]}'),
            ("lone surrogate in a /classify input", '{"input": ["\\ud800"]}'),
            (
                "lone surrogate in a /classify message",
                '{"messages": [{"role": "user", "content": "\\udfff"}, {"role": "assistant", "content": "x"}]}',
            ),
            ("lone surrogate in a /v1/embeddings input", '{"input": "a\\ud800"}'),
        ]:
            path = (
                "/get_reward"
                if "query" in body
                else "/v1/embeddings"
                if "embeddings" in name
                else "/classify"
                if "classify" in name
                else "/score"
            )
            self.post(
                "unicode",
                name,
                path,
                content=body.encode(),
                headers={**auth(self.server), "content-type": "application/json"},
                expect={422},
            )

    def nan_literals(self) -> None:
        for i, body in enumerate(
            [
                b'{"items": [{"prompt": "a", "response": "b"}], "normalize": NaN}',
                b'{"items": [NaN]}',
                b'{"items": [{"prompt": "a", "response": Infinity}]}',
                b'{"items": [{"prompt": -Infinity, "response": "b"}]}',
                b'{"query": [NaN]}',
                b'{"items": [{"messages": [{"role": "user", "content": NaN}]}]}',
                b'{"input": [NaN]}',
                b'{"input": Infinity}',
                b'{"input": "a", "activation": NaN}',
            ]
        ):
            path = (
                "/get_reward"
                if b"query" in body
                else "/v1/embeddings"
                if b"Infinity}" in body
                else "/classify"
                if b"input" in body
                else "/score"
            )
            self.post(
                "nan",
                f"NaN literal {i}",
                path,
                content=body,
                headers={**auth(self.server), "content-type": "application/json"},
                expect={422},
            )

    def oversized(self) -> None:
        s = self.server
        self.raw_case(
            "oversized",
            "declared 9 MiB, body never sent",
            head(s, length=9 * MIB),
            {413},
            wait=s.header_timeout_s + 5,
            must_contain=b"exceeds the limit",
        )
        big = b"x" * (s.max_body_bytes + MIB)
        self.raw_case(
            "oversized",
            "9 MiB declared and sent",
            head(s, length=len(big)),
            {413},
            then=big,
            wait=s.header_timeout_s + 5,
        )
        chunked = b"".join(b"%x\r\n%s\r\n" % (MIB, big[i : i + MIB]) for i in range(0, 9 * MIB, MIB)) + b"0\r\n\r\n"
        self.raw_case(
            "oversized", "9 MiB chunked", head(s, chunked=True), {413}, then=chunked, wait=s.body_timeout_s + 5
        )
        body = b'{"items": [' + b",".join([b'{"prompt": "a", "response": "b"}'] * 240_000) + b"]}"
        self.post(
            "oversized",
            "240,000 items (8 MB)",
            "/score",
            content=body,
            headers={**auth(s), "content-type": "application/json"},
            expect=lambda r: r.status_code == 413 and "240000 items" in r.text,
        )
        few = b'{"items": [' + b",".join([b"{}"] * 240_000) + b"]}"
        self.post(
            "oversized",
            "240,000 empty items",
            "/score",
            content=few,
            headers={**auth(s), "content-type": "application/json"},
            expect=lambda r: r.status_code == 413 and "240000 items" in r.text,
        )
        self.post(
            "oversized", "257 items", "/score", json={"items": [self.items[0][0]] * (s.max_items + 1)}, expect={413}
        )
        self.post("oversized", "257 queries", "/get_reward", json={"query": ["x"] * (s.max_items + 1)}, expect={413})
        huge = "x" * (7 * MIB)
        for field, item in [
            ("response", {"prompt": "hi", "response": huge}),
            ("prompt", {"prompt": huge, "response": "ok"}),
        ]:
            self.post(
                "oversized",
                f"7 MB {field}",
                "/score",
                json={"items": [item]},
                expect=lambda r, f=field: r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == f,
            )
        self.post("oversized", "7 MB query", "/get_reward", json={"query": [huge]}, expect={422})
        for path in POOLING:
            self.post("oversized", f"257 inputs {path}", path, json={"input": ["x"] * (s.max_items + 1)}, expect={413})
            self.post(
                "oversized",
                f"240,000 empty inputs {path}",
                path,
                content=b'{"input": [' + b",".join([b"{}"] * 240_000) + b"]}",
                headers={**auth(s), "content-type": "application/json"},
                expect=lambda r: r.status_code == 413 and "240000 items" in r.text,
            )
            self.post(
                "oversized",
                f"7 MB input {path}",
                path,
                json={"input": [huge]},
                expect=lambda r: r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "input", 0],
            )
        chat = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 40
        self.post("oversized", "80 messages", "/score", json={"items": [{"messages": chat}]}, expect={422})
        self.post("oversized", "80 messages /classify", "/classify", json={"messages": chat}, expect={422})
        self.post(
            "oversized",
            "over max_length tokens",
            "/score",
            json={"items": [{"prompt": "q " * 2000, "response": "a"}]},
            expect=lambda r: r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "prompt",
        )

    def unauthenticated(self) -> None:
        s, item = self.server, {"items": [self.items[0][0]]}
        for name, headers in [
            ("no token", {}),
            ("wrong token", {"Authorization": "Bearer " + "x" * 32}),
            ("basic auth", {"Authorization": "Basic dXNlcjpwYXNz"}),
            ("token plus a character", {"Authorization": f"Bearer {s.token}x"}),
            ("bearer without a token", {"Authorization": "Bearer"}),
            ("token as a query parameter", {}),
        ]:
            path = f"/score?token={s.token}" if "query" in name else "/score"
            self.post(
                "unauth",
                name,
                path,
                json=item,
                headers=headers,
                expect=lambda r: r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer",
            )
        self.post(
            "unauth",
            "lowercase scheme",
            "/score",
            json=item,
            headers={"Authorization": f"bearer {s.token}"},
            expect=self.rewards_match([self.items[0][1]]),
        )
        for path in POOLING:
            for name, headers in [("no token", {}), ("wrong token", {"Authorization": "Bearer " + "x" * 32})]:
                self.post(
                    "unauth",
                    f"{name} {path}",
                    path,
                    json={"input": [self.renders[0][0]]},
                    headers=headers,
                    expect=lambda r: r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer",
                )
            self.raw_case(
                "unauth",
                f"8 MiB declared to {path}, body never sent",
                head(s, path, length=8 * MIB, token=None),
                {401},
                wait=s.header_timeout_s + 2,
            )
        started = time.monotonic()
        r = self.http.get("/info")
        self.record("unauth", "GET /info", "clean" if r.status_code == 401 else "wrong", r.status_code, started)
        for path in ("/health", "/openapi.json"):
            started = time.monotonic()
            r = self.http.get(path)
            self.record(
                "unauth", f"GET {path} (public)", "clean" if r.status_code == 200 else "wrong", r.status_code, started
            )
        self.raw_case(
            "unauth",
            "8 MiB declared, body never sent",
            head(s, length=8 * MIB, token=None),
            {401},
            wait=s.header_timeout_s + 2,
        )
        self.raw_case(
            "unauth",
            "chunked upload",
            head(s, token=None, chunked=True),
            {401},
            then=b"5\r\nhello\r\n" * 3,
            wait=s.header_timeout_s + 2,
        )

        # many unauthenticated uploads that stall after 1 MiB: all refused at once, none buffered
        def stalled_upload(i: int) -> None:
            self.raw_case(
                "unauth",
                f"stalled 8 MiB upload {i}",
                head(s, length=8 * MIB, token=None) + b"x" * MIB,
                {401},
                wait=s.header_timeout_s + 5,
            )

        with ThreadPoolExecutor(self.args.stalled) as pool:
            list(pool.map(stalled_upload, range(self.args.stalled)))

    def slow(self) -> None:
        s = self.server
        head_wait, body_wait = s.header_timeout_s + 5, s.body_timeout_s + 5
        cases: list[Callable[[], None]] = [
            lambda: self.raw_case(
                "slow",
                "slowloris head",
                b"POST /score HTTP/1.1\r\nHost: fu",
                {408},
                wait=head_wait,
                must_contain=b"request headers not received",
            ),
            lambda: self.raw_case(
                "slow",
                "head dripping a byte every 0.5 s",
                b"POST /score HTTP/1.1\r\n",
                {408},
                then=b"X-Slow: " + b"a" * 200,
                drip=0.5,
                wait=head_wait,
            ),
            lambda: self.raw_case("slow", "idle connection", b"", {None}, wait=head_wait),
            lambda: self.raw_case(
                "slow",
                "stalled body",
                head(s, length=1000) + b'{"items": [',
                {408},
                wait=body_wait,
                must_contain=b"request body not received",
            ),
            lambda: self.raw_case(
                "slow",
                "body dripping a byte every 0.5 s",
                head(s, length=400),
                {408},
                then=b'{"items": [' + b" " * 300,
                drip=0.5,
                wait=body_wait,
            ),
            lambda: self.raw_case(
                "slow", "stalled chunked body", head(s, chunked=True) + b"5\r\nhello\r\n", {408}, wait=body_wait
            ),
        ]
        # authenticated uploads that stall: bounded by the buffered-bytes budget (503) and the body timeout (408)
        for i in range(self.args.stalled):
            cases.append(
                lambda i=i: self.raw_case(
                    "slow",
                    f"stalled authenticated 8 MiB upload {i}",
                    head(s, length=8 * MIB) + b"x" * MIB,
                    {408, 503},
                    wait=body_wait,
                )
            )
        with ThreadPoolExecutor(len(cases)) as pool:
            list(pool.map(lambda case: case(), cases))

    def concurrent(self) -> None:
        s, args = self.server, self.args

        def call(i: int) -> None:  # /score, /get_reward, /classify and /v1/embeddings in turn
            picked = [self.items[(i + k) % len(self.items)] for k in range(1 + i % 4)]
            if i % 4 == 1:
                queries = [self.queries[(i + k) % len(self.queries)] for k in range(1 + i % 4)]
                self.post(
                    "concurrent",
                    f"get_reward {i}",
                    "/get_reward",
                    json={"query": [q for q, _ in queries]},
                    expect=self.rewards_match([e for _, e in queries]),
                )
            elif i % 4 == 3:  # verl: one whole render per request (a group's completions in flight together)
                path = POOLING[(i // 4) % 2]
                render, expected = self.renders[(i // 4) % len(self.renders)]
                body = {"model": "rm", "input": render} | ({"activation": False} if path == "/classify" else {})
                self.post("concurrent", f"{path} {i}", path, json=body, expect=self.rewards_match([expected], path))
            else:
                self.post(
                    "concurrent",
                    f"score {i}",
                    "/score",
                    json={"items": [x for x, _ in picked]},
                    expect=self.rewards_match([e for _, e in picked]),
                )

        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(call, range(args.concurrency)))
        if args.burst:  # more connections than the server's limit: 200 with the right rewards, or 503
            expected = self.items[0][1]

            def burst(i: int) -> None:
                with httpx.Client(base_url=s.url, timeout=args.timeout) as client:
                    started = time.monotonic()
                    try:
                        r = client.post("/score", json={"items": [self.items[0][0]]}, headers=auth(s))
                    except httpx.HTTPError as e:
                        self.record("concurrent", f"burst {i}", "lost", None, started, str(e))
                        return
                    ok = r.status_code == 503 or self.rewards_match([expected])(r)
                    self.record(
                        "concurrent",
                        f"burst {i}",
                        "clean" if ok else "wrong",
                        r.status_code,
                        started,
                        "" if ok else r.text,
                    )

            with ThreadPoolExecutor(args.burst) as pool:
                list(pool.map(burst, range(args.burst)))

    def schema(self) -> None:
        """Schema-driven requests (valid and invalid) as in tests/serving/test_fuzz.py: never a 5xx, every reply
        conforms to the OpenAPI schema."""
        import schemathesis
        from hypothesis import HealthCheck, given, settings
        from schemathesis import GenerationMode
        from schemathesis.specs.openapi.checks import positive_data_acceptance

        api = schemathesis.openapi.from_url(f"{self.server.url}/openapi.json")
        operations = [
            ("POST", "/score"),
            ("POST", "/get_reward"),
            ("POST", "/classify"),
            ("POST", "/v1/embeddings"),
            ("GET", "/health"),
            ("GET", "/info"),
        ]
        for method, path in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if method == "POST" or mode is GenerationMode.POSITIVE:
                    self.schema_operation(
                        api, method, path, mode, given, settings, HealthCheck, [positive_data_acceptance]
                    )

    def schema_operation(
        self, api: Any, method: str, path: str, mode: Any, given: Any, settings: Any, health_check: Any, excluded: list
    ) -> None:
        import requests

        name = f"{method} {path} {mode.value}"

        @given(case=api[path][method].as_strategy(generation_mode=mode))
        @settings(
            max_examples=self.args.schema_examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(health_check),
        )
        def run(case: Any) -> None:
            started = time.monotonic()
            try:
                response = case.call(headers=auth(self.server), timeout=self.args.timeout)
            except requests.RequestException as e:  # a transport failure is a lost case
                self.record("schema", name, "lost", None, started, str(e))
                return
            try:
                # every check but positive_data_acceptance: some schema-valid items are refused on purpose (a
                # conversation not ending with the assistant turn; over max_items), rules a schema cannot express
                case.validate_response(response, excluded_checks=excluded)
                result, detail = "clean", ""
            except Exception as e:  # noqa: BLE001 - schemathesis' failure groups are not one type
                result, detail = "wrong", str(e)
            self.record("schema", name, result, response.status_code, started, detail)

        run()

    def offline(self, prompt: list[dict[str, str]], response: str) -> float:
        return self.args.scorer.score([prompt], [response])["rewards"].item()


# ---- report ----------------------------------------------------------------------------------------
def summarize(outcomes: list[Outcome], server: Server, args: argparse.Namespace, seconds: float) -> dict:
    groups: dict[str, Counter] = {}
    for o in outcomes:
        groups.setdefault(o.group, Counter())[o.result] += 1
    totals = Counter(o.result for o in outcomes)
    timing = {
        o.case: o.seconds
        for o in outcomes
        if o.group in ("oversized", "unauth", "slow") and not o.case.split()[-1].isdigit()
    }
    return {
        "mode": "quick" if args.quick else "full",
        "baseline": args.baseline,
        "model": args.model,
        "cases": len(outcomes),
        "clean": totals["clean"],
        "lost": totals["lost"],
        "wrong": totals["wrong"],
        "max_rss_mb": round(server.max_rss / MIB),
        "seconds": round(seconds, 1),
        "server": {"header_timeout_s": server.header_timeout_s, "body_timeout_s": server.body_timeout_s},
        "groups": {g: dict(c) for g, c in groups.items()},
        "seconds_to_answer": timing,
        "not_clean": [asdict(o) for o in outcomes if o.result != "clean"][:40],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }


def print_table(summary: dict) -> None:
    print("| group | cases | clean | lost | wrong |\n|---|---:|---:|---:|---:|")
    for group, counts in summary["groups"].items():
        print(
            f"| {group} | {sum(counts.values())} | {counts.get('clean', 0)} | {counts.get('lost', 0)} | "
            f"{counts.get('wrong', 0)} |"
        )
    print("\n| case | seconds to answer |\n|---|---:|")
    for case, seconds in summary["seconds_to_answer"].items():
        print(f"| {case} | {seconds:.2f} |")
    for o in summary["not_clean"][:10]:
        print(f"not clean: [{o['group']}] {o['case']}: {o['result']} (HTTP {o['status']}) {o['detail'][:160]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer cases, 2 s / 3 s server head / body timeouts")
    parser.add_argument("--model", default="tiny", help="'tiny' (random, built here), or an alias / export dir")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="start the server without this version's limit flags (to measure an older rewardkit)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="client seconds per request (default: the server's body timeout + 15)",
    )
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    args.concurrency = 48 if args.quick else 200
    args.burst = 0 if args.quick else 400
    args.stalled = 12 if args.quick else 50
    args.schema_examples = 10 if args.quick else 40
    output = args.output or RESULTS / ("fuzz_serve_quick.json" if args.quick else "fuzz_serve.json")

    from rewardkit.evaluation.evaluate import load_scorer

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fuzz-serve-") as tmp:
        checkpoint = prepare_checkpoint(args.model, Path(tmp))
        args.scorer = load_scorer(checkpoint)
        renderer = args.scorer.encoder().renderer
        prompts = [[{"role": "user", "content": f"What is {a}+{b}?"}] for a, b in [(2, 2), (7, 5), (13, 21), (1, 1)]]
        responses = ["4", "12, I think.", "It is 34.", "Two."]
        rewards = args.scorer.score(prompts, responses)["rewards"].tolist()
        items = [({"prompt": p, "response": r}, x) for p, r, x in zip(prompts, responses, rewards)]
        eos = args.scorer.tokenizer.eos_token
        queries = [
            (renderer.prompt_text(p) + renderer.response_text(r) + eos, x)
            for p, r, x in zip(prompts, responses, rewards)
        ]
        renders = [(renderer.conversation_text(p, r), x) for p, r, x in zip(prompts, responses, rewards)]
        server = start(checkpoint, args)
        args.timeout = args.timeout or server.body_timeout_s + 15
        fuzz = Fuzz(server, items, queries, renders, args)
        baseline_rss = psutil.Process(server.proc.pid).memory_info().rss
        try:
            for group in (
                fuzz.malformed,
                fuzz.unicode,
                fuzz.nan_literals,
                fuzz.oversized,
                fuzz.unauthenticated,
                fuzz.slow,
                fuzz.concurrent,
                fuzz.schema,
            ):
                print(f"{group.__name__} ...", flush=True)
                group()
            alive = server.proc.poll() is None and httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        finally:
            fuzz.http.close()
            stop(server)
    summary = summarize(fuzz.outcomes, server, args, time.monotonic() - started)
    summary["server_rss_mb_at_start"] = round(baseline_rss / MIB)
    summary["server_alive_at_end"] = alive
    print_table(summary)
    write_json_atomic(output, summary)
    print(f"wrote {output.relative_to(REPO) if output.is_relative_to(REPO) else output}")
    print(
        f"fuzz cases={summary['cases']} clean={summary['clean']} lost={summary['lost']} wrong={summary['wrong']} "
        f"max_rss_mb={summary['max_rss_mb']}"
    )
    return 0 if summary["clean"] == summary["cases"] and alive else 1


if __name__ == "__main__":
    sys.exit(main())
