"""A fake OpenAI-compatible chat-completions endpoint on loopback, for judge tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def prefers_good(first: str, second: str) -> str:
    """A consistent judge: the response containing 'good' wins, whatever its position."""
    return "A" if "good" in first else "[[B]]" if "good" in second else "A"


@contextmanager
def fake_endpoint(decide: Callable[[str, str], str], fail_first: int = 0) -> Iterator[tuple[str, list]]:
    """An OpenAI-style /v1/chat/completions server on a free loopback port."""
    seen: list[dict] = []
    failures = {"left": fail_first}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
            if failures["left"] > 0:
                failures["left"] -= 1
                self.send_response(503)
                self.end_headers()
                return
            text = body["messages"][-1]["content"]
            first = text.split("[Response A]\n", 1)[1].split("\n\n[Response B]", 1)[0]
            second = text.split("[Response B]\n", 1)[1].split("\n\nWhich response", 1)[0]
            reply = {"choices": [{"message": {"role": "assistant", "content": decide(first, second)}}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


def prefers_longer(first: str, second: str) -> str:
    return "A" if len(first) > len(second) else "B" if len(second) > len(first) else "tie"
