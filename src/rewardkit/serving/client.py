"""A small synchronous client of the reward server (httpx).

  with RewardClient("http://127.0.0.1:8000") as rm:
      rm.score([{"prompt": "What is 2+2?", "response": "4"}])        # → [reward]
      rm.get_reward(["<|im_start|>user\\n...<|im_start|>assistant\\n4<|im_end|>"])

Large lists are sent in chunks of `chunk_size` items; connection errors and 503 (busy) are retried with
exponential backoff (scoring is idempotent). Other errors raise RewardServerError with the server's message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from rewardkit.serving.config import TOKEN_ENV

RETRY_STATUS = (502, 503, 504)


class RewardServerError(RuntimeError):
    """The server answered with an error status; `detail` is its message."""

    def __init__(self, status_code: int, detail: Any):
        self.status_code, self.detail = status_code, detail
        super().__init__(f"reward server answered {status_code}: {detail}")


class RewardClient:
    """Calls /score, /get_reward, /health and /info. The token defaults to $REWARDKIT_SERVE_TOKEN."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        token: str | None = None,
        timeout_s: float = 300.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        chunk_size: int = 256,
        http: httpx.Client | None = None,
    ):
        if chunk_size < 1 or retries < 0:
            raise ValueError("chunk_size must be >= 1 and retries >= 0")
        token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout_s)
        self.http.headers.update(headers)
        self.retries, self.backoff_s, self.chunk_size = retries, backoff_s, chunk_size

    def __enter__(self) -> RewardClient:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.http.request(method, path, json=payload)
            except httpx.TransportError:
                if last:
                    raise
            else:
                if response.status_code < 400:
                    return response.json()
                if response.status_code not in RETRY_STATUS or last:
                    try:
                        detail = response.json().get("detail", response.text)
                    except ValueError:
                        detail = response.text
                    raise RewardServerError(response.status_code, detail)
            time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def _chunks(self, values: Sequence[Any]) -> list[Sequence[Any]]:
        return [values[i : i + self.chunk_size] for i in range(0, len(values), self.chunk_size)]

    def score(self, items: Sequence[Mapping[str, Any]], *, normalize: bool | None = None) -> list[float]:
        """Rewards of {"prompt", "response"} / {"messages"} items, in order."""
        rewards: list[float] = []
        for chunk in self._chunks(list(items)):
            body: dict[str, Any] = {"items": list(chunk)}
            if normalize is not None:
                body["normalize"] = normalize
            rewards.extend(self._request("POST", "/score", body)["rewards"])
        return rewards

    def score_pairs(
        self, prompts: Sequence[str | list[dict[str, str]]], responses: Sequence[str], *, normalize: bool | None = None
    ) -> list[float]:
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        return self.score([{"prompt": p, "response": r} for p, r in zip(prompts, responses)], normalize=normalize)

    def get_reward(self, queries: Sequence[str]) -> list[float]:
        """OpenRLHF-style: rewards of full conversations rendered with the model's chat template."""
        rewards: list[float] = []
        for chunk in self._chunks(list(queries)):
            rewards.extend(self._request("POST", "/get_reward", {"query": list(chunk)})["rewards"])
        return rewards

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def info(self) -> dict[str, Any]:
        return self._request("GET", "/info")
