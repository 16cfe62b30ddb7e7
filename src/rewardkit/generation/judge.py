"""A pairwise LLM judge on an OpenAI-compatible chat-completions endpoint (user-supplied; httpx).

Every comparison is asked in both presentation orders; a response wins only when both orders prefer it,
anything else (disagreement, an unparseable answer) is a tie. The API key, if the endpoint needs one, is
read from an environment variable (`api_key_env`), never from a flag.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
from tqdm.auto import tqdm

from rewardkit.config import option
from rewardkit.rewards.base import Messages

log = logging.getLogger("rewardkit.generation")

SYSTEM_PROMPT = (
    "You are a careful, impartial judge of AI assistant responses. Compare two responses to the same "
    "conversation for helpfulness, correctness, harmlessness and following the user's instructions. "
    "Do not let the order or the length of the responses influence you."
)
USER_TEMPLATE = (
    "[Conversation]\n{conversation}\n\n[Response A]\n{first}\n\n[Response B]\n{second}\n\n"
    "Which response is better? Answer with a single letter: A or B."
)
_VERDICT_RE = re.compile(
    r"\[\[\s*([AB])\s*\]\]|\b(?:response|answer|verdict)\s*:?\s*([AB])\b|^\W*([AB])\b", re.IGNORECASE
)


@dataclass
class JudgeConfig:
    """Where the judge is; `base_url` None turns the judge off."""

    base_url: str | None = option(
        None,
        "OpenAI-compatible endpoint of an LLM judge, e.g. http://127.0.0.1:8000/v1 "
        "(POST {base_url}/chat/completions); none: no judge.",
    )
    model: str = option("judge", "The judge's model name on that endpoint.")
    api_key_env: str = option("OPENAI_API_KEY", "Environment variable holding the judge's API key.")
    timeout_s: float = option(60.0, "Seconds a judge request may take.")
    max_tokens: int = option(8, "Most tokens of a verdict.")
    retries: int = option(2, "Retries of a failed judge request.")

    def __post_init__(self) -> None:
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"judge base_url must be an http(s) URL, got {self.base_url!r}")
        if self.timeout_s <= 0 or self.retries < 0 or self.max_tokens < 1:
            raise ValueError("judge timeout_s must be > 0, retries >= 0 and max_tokens >= 1")


def render_conversation(messages: Messages) -> str:
    return "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


def parse_verdict(text: str) -> str | None:
    """'A', 'B' or None from a judge's answer ("A", "[[B]]", "Response A is better", ...)."""
    m = _VERDICT_RE.search(text.strip())
    if not m:
        return None
    return next(g for g in m.groups() if g).upper()


class LLMJudge:
    """`compare(prompt, a, b)` -> +1 (a better in both orders), -1 (b better in both), 0 (tie)."""

    def __init__(self, config: JudgeConfig, client: httpx.Client | None = None):
        if config.base_url is None:
            raise ValueError("the LLM judge needs a base_url")
        self.config = config
        headers = {}
        key = os.environ.get(config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.client = client or httpx.Client(timeout=config.timeout_s, headers=headers)
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.calls = 0

    def close(self) -> None:
        self.client.close()

    def ask(self, conversation: str, first: str, second: str) -> str | None:
        """The judge's verdict ('A' = first, 'B' = second, None = unparseable) for one presentation order."""
        body: dict[str, Any] = {
            "model": self.config.model,
            "temperature": 0,
            "max_tokens": self.config.max_tokens,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": USER_TEMPLATE.format(conversation=conversation, first=first, second=second),
                },
            ],
        }
        for attempt in range(self.config.retries + 1):
            try:
                response = self.client.post(self.url, json=body)
                if response.status_code in (429, 500, 502, 503, 504) and attempt < self.config.retries:
                    time.sleep(0.5 * 2**attempt)
                    continue
                response.raise_for_status()
                self.calls += 1
                return parse_verdict(response.json()["choices"][0]["message"]["content"] or "")
            except httpx.TransportError:
                if attempt >= self.config.retries:
                    raise
                time.sleep(0.5 * 2**attempt)
            except (KeyError, IndexError, TypeError, ValueError) as e:
                raise ValueError(f"judge {self.url}: unexpected reply ({e})") from e
        return None  # pragma: no cover - the loop always returns or raises

    def compare(self, prompt: Messages, a: str, b: str) -> int:
        if a == b:
            return 0
        conversation = render_conversation(prompt)
        first = self.ask(conversation, a, b)
        second = self.ask(conversation, b, a)
        if first == "A" and second == "B":
            return 1
        if first == "B" and second == "A":
            return -1
        return 0

    def compare_many(
        self, prompts: Sequence[Messages], a: Sequence[str], b: Sequence[str], desc: str = "judging"
    ) -> np.ndarray:
        return np.asarray(
            [
                self.compare(p, x, y)
                for p, x, y in tqdm(list(zip(prompts, a, b)), desc=desc, leave=False, disable=len(prompts) < 8)
            ]
        )
