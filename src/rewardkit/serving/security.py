"""Request guards, in the order a request meets them.

1. `GuardedH11Protocol` (uvicorn's h11 protocol): the request line and headers must arrive within
   `header_timeout_s` of connecting (or of the previous response on a kept-alive connection), else 408 and
   close: slowloris connections cannot pile up. uvicorn adds the keep-alive timeout, the connection limit
   (503 beyond it) and h11's cap on the size of the request head.
2. `RequestGuard` (pure ASGI middleware), before any byte of the body is read: the size of the request head
   (431; h11 only bounds a head still incomplete), the bearer token (401), the declared Content-Length
   (400 / 413), a server-wide budget of buffered body bytes (503 + Retry-After); then
   the body is read against a deadline (408 when the client stalls) and counted as it streams (413), and
   replayed to the application.
3. `bearer_auth`: the same token check as a FastAPI dependency, so the OpenAPI schema documents it.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from uvicorn.protocols.http.h11_impl import H11Protocol

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect"})
UNAUTHORIZED = "missing or invalid bearer token"
_HEAD_TIMEOUT_BODY = b'{"detail": "request headers not received in time"}'
HEAD_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_HEAD_TIMEOUT_BODY), _HEAD_TIMEOUT_BODY)
)


async def send_json_error(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A JSON error reply that closes the connection (the rest of the request body is never read)."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def token_matches(header: bytes | None, expected: bytes) -> bool:
    """Whether an Authorization header value is `Bearer <expected>` (constant-time comparison)."""
    if not header:
        return False
    scheme, _, credentials = header.partition(b" ")
    return scheme.lower() == b"bearer" and secrets.compare_digest(credentials.strip(), expected)


class BodyBudget:
    """Body bytes buffered by all requests together: a request that would pass `limit` waits for none, it is
    refused (503), so stalled uploads cannot add up to unbounded memory."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


class RequestGuard:
    """Authenticate, bound and time the body before the application sees the request (see module docstring)."""

    def __init__(
        self,
        app: Callable,
        *,
        token: str | None,
        max_body_bytes: int,
        body_timeout_s: float,
        max_buffered_bytes: int,
        max_header_bytes: int,
    ):
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.expected = token.encode("utf-8") if token is not None else None
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.budget = BodyBudget(max_buffered_bytes)

    def too_large(self) -> str:
        return f"request body exceeds the limit of {self.max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers") or []
        if len(scope.get("raw_path") or b"") + sum(len(k) + len(v) + 4 for k, v in raw_headers) > self.max_header_bytes:
            await send_json_error(send, 431, f"request head exceeds the limit of {self.max_header_bytes} bytes")
            return
        headers = dict(raw_headers)
        if (
            self.expected is not None
            and scope["path"] not in PUBLIC_PATHS
            and not token_matches(headers.get(b"authorization"), self.expected)
        ):
            await send_json_error(send, 401, UNAUTHORIZED, [(b"www-authenticate", b"Bearer")])
            return
        declared = headers.get(b"content-length")
        size = 0
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size < 0:
                await send_json_error(send, 400, "invalid Content-Length header")
                return
            if size > self.max_body_bytes:
                await send_json_error(send, 413, self.too_large())
                return
        reserved = 0
        try:
            if not self.budget.take(size):
                await send_json_error(
                    send, 503, "server busy: too many request bodies in transit", [(b"retry-after", b"1")]
                )
                return
            reserved = size
            body = bytearray()
            deadline = asyncio.get_running_loop().time() + self.body_timeout_s
            while True:
                try:
                    message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
                except TimeoutError:
                    await send_json_error(send, 408, f"request body not received within {self.body_timeout_s:g} s")
                    return
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if len(body) > self.max_body_bytes:
                    await send_json_error(send, 413, self.too_large())
                    return
                if len(body) > reserved:  # chunked or longer than declared: reserve as it streams
                    if not self.budget.take(len(body) - reserved):
                        await send_json_error(
                            send, 503, "server busy: too many request bodies in transit", [(b"retry-after", b"1")]
                        )
                        return
                    reserved = len(body)
                if not message.get("more_body", False):
                    break
            await self.app(scope, replay(bytes(body), receive), send)
        finally:
            self.budget.give(reserved)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that returns the already-read body once, then defers to the server's (disconnects)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head (request line + headers): it runs from the
    connection's opening, and on a kept-alive connection from the first byte of the next request (an idle
    kept-alive connection is uvicorn's keep-alive timeout's to close). A head still incomplete at the deadline
    gets 408 (or, if not a byte of it came, just the close)."""

    header_timeout_s: float = 10.0  # set per server by `guarded_protocol`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._waiting_cycle = self.cycle  # a request head replaces it with a new cycle
        self._head_started = False
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self.cycle is self._waiting_cycle:  # bytes of a head not complete yet
            self._head_started = True
            if self._head_deadline is None:
                self._arm_head_deadline()
        super().data_received(data)

    def on_response_complete(self) -> None:
        self._cancel_head_deadline()
        self._waiting_cycle, self._head_started = self.cycle, False  # the next head's deadline starts with it
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._head_deadline = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _cancel_head_deadline(self) -> None:
        if getattr(self, "_head_deadline", None) is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timeout(self) -> None:
        self._head_deadline = None
        if self.cycle is self._waiting_cycle and not self.transport.is_closing():
            if self._head_started:
                self.transport.write(HEAD_TIMEOUT_REPLY)  # raw: h11 cannot answer a request it has not parsed
            self.transport.close()


def guarded_protocol(header_timeout_s: float) -> type[GuardedH11Protocol]:
    """A GuardedH11Protocol class with this server's header deadline."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": header_timeout_s})


def bearer_auth(token: str | None) -> list[Any]:
    """Route dependencies requiring `Authorization: Bearer <token>` (none when no token is configured)."""
    if token is None:
        return []
    expected = token.encode("utf-8")
    scheme = HTTPBearer(auto_error=False, description="the token given to the server at startup")

    async def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:
        if credentials is None or not secrets.compare_digest(credentials.credentials.encode("utf-8"), expected):
            raise HTTPException(status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})

    return [Depends(require_token)]
