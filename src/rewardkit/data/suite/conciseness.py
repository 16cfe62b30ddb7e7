"""Conciseness: the user asks for a brief answer; the chosen response is short and correct, the rejected one is
long and rambling (correct or wrong) or, sometimes, short but wrong.

Gold scorer: correctness (the factual/arithmetic gold) times a length penalty min(1, word_budget / words).
"""

from __future__ import annotations

import random
from typing import Any

from . import arithmetic, factual
from .base import Family, alpha_tokens, fmt_num, tokens, user
from .lexicon import BRIDGES, FILLERS

NAME = "conciseness"
ASPECT = "conciseness"

_BRIEF = (
    ("Briefly: {q}", 20),
    ("{q} Keep it short.", 20),
    ("{q} Answer in a few words.", 12),
    ("{q} Just the answer, please.", 12),
    ("In one short sentence: {q}", 20),
    ("{q} No need for a long explanation.", 20),
    ("Short answer only: {q}", 12),
    ("{q} Be brief.", 20),
    ("Quick one, no essay please: {q}", 15),
)
_SYSTEM_BRIEF = ("Be concise. Answer in as few words as possible.", "You give short, direct answers.")

_ARITH_Q = ("What is {a} + {b}?", "What is {a} × {b}?", "What is {a} minus {b}?", "How much is {a} times {b}?")


def _arith_question(rng: random.Random) -> tuple[str, dict[str, Any]]:
    t = rng.randrange(len(_ARITH_Q))
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    if t == 2 and a < b:
        a, b = b, a
    ans = (a + b, a * b, a - b, a * b)[t]
    expr = (f"{a} + {b}", f"{a} × {b}", f"{a} - {b}", f"{a} × {b}")[t]
    return _ARITH_Q[t].format(a=a, b=b), {"kind": "arithmetic", "answer": ans, "expression": expr}


def make_prompt(rng: random.Random) -> tuple[list[dict[str, str]], dict[str, Any]]:
    if rng.random() < 0.25:
        q, qmeta = _arith_question(rng)
    else:
        q, qmeta = factual.question(rng)
    system = None
    if rng.random() < 0.2:
        system = rng.choice(_SYSTEM_BRIEF)
        text, budget = q, 15
    else:
        tmpl, budget = rng.choice(_BRIEF)
        text = tmpl.format(q=q)
    return user(text, system), {"family": NAME, "aspect": ASPECT, "word_budget": budget, **qmeta}


def _short(rng: random.Random, meta: dict[str, Any], value: Any, length: str = "any") -> str:
    if meta["kind"] == "arithmetic":
        V = fmt_num(value)
        short = (f"{V}.", f"{V}", f"It's {V}.")
        long = (f"{meta['expression']} = {V}.", f"The answer is {V}.")
        pool = {"short": short, "long": long}.get(length, short + long)
        return rng.choice(pool)
    for _ in range(20):  # a phrasing that fits comfortably within the word budget
        text = factual.render(rng, meta, value, length)
        if len(tokens(text)) <= meta["word_budget"] - 2:
            return text
    return f"{value}."


def _wrong(rng: random.Random, meta: dict[str, Any]) -> Any:
    if meta["kind"] == "arithmetic":
        a = meta["answer"]
        return rng.choice([a + d for d in (-2, -1, 1, 2, 10) if a + d != a])
    return factual.wrong_answer(rng, meta)


def _ramble(rng: random.Random, meta: dict[str, Any], value: Any) -> str:
    k_before, k_after = rng.randint(2, 4), rng.randint(1, 3)
    fill = rng.sample(FILLERS, k_before + k_after)
    core = _short(rng, meta, value, "long")
    text = " ".join(x for x in fill[:k_before] + [rng.choice(BRIDGES), core] + fill[k_before:] if x)
    while len(alpha_tokens(text)) < 2 * meta["word_budget"] + 10:
        text += " " + rng.choice(FILLERS)
    if meta["kind"] == "arithmetic":
        text += f" So, once more, the answer is {fmt_num(value)}."
    return text


def make_responses(rng: random.Random, meta: dict[str, Any]) -> tuple[str, str, str]:
    r = rng.random()
    if r < 0.4:
        variant = "ramble_correct"
        chosen, rejected = _short(rng, meta, meta["answer"]), _ramble(rng, meta, meta["answer"])
    elif r < 0.7:
        variant = "ramble_wrong"
        chosen, rejected = _short(rng, meta, meta["answer"]), _ramble(rng, meta, _wrong(rng, meta))
    else:
        variant = "short_wrong"
        chosen, rejected = _short(rng, meta, meta["answer"], "long"), _short(rng, meta, _wrong(rng, meta), "short")
    return chosen, rejected, variant


# ----------------------------------------------------------------------------------------------------- gold


def correctness(meta: dict[str, Any], response: str) -> float:
    if meta["kind"] == "arithmetic":
        return arithmetic.correctness(meta["answer"], response)
    return factual.correctness(meta, response)


def length_penalty(meta: dict[str, Any], response: str) -> float:
    n = len(tokens(response))
    return min(1.0, meta["word_budget"] / max(n, 1))


def score(meta: dict[str, Any], response: str) -> float:
    return correctness(meta, response) * length_penalty(meta, response)


FAMILY = Family(
    NAME,
    ASPECT,
    make_prompt,
    make_responses,
    score,
    "short correct answer vs long rambling (correct or wrong) or short wrong answer, when brevity is asked",
)
