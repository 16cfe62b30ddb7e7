"""Request bodies that a reward server must refuse with a 4xx (never a 500), shared by tests/serving and
benchmarks/fuzz_serve.py."""

from __future__ import annotations

MALFORMED_BODIES: list[bytes] = [
    b"",
    b"{",
    b"[]",
    b"null",
    b"3",
    b'"items"',
    b'{"items": 3}',
    b'{"items": [1]}',
    b'{"items": [{"prompt": 1}]}',
    b'{"items": [{"prompt": "a", "response": "b"}], "normalize": "maybe"}',
    b'{"items": [{"messages": [{"role": "tool", "content": "x"}, {"role": "assistant", "content": "y"}]}]}',
    b"\xff\xfe\x00",
    b"[" * 50_000,
    b'{"items": [' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"]}",
    b'{"query": ["x"]}',
]
