"""Arithmetic correctness: a correct result vs a wrong one (sometimes wrong-but-confident vs hedged-but-correct).

Gold scorer: 1.0 when the final number the response states equals the answer; a wrong number gets at most
0.25, shrinking with its relative error; no number at all gets 0.0.
"""

from __future__ import annotations

import random
from typing import Any

from .base import Family, final_number, fmt_num, user
from .lexicon import ITEMS, NAMES

NAME = "arithmetic"
ASPECT = "correctness"

_TEMPLATES = {
    "add": (
        "What is {a} + {b}?",
        "What is {a} plus {b}?",
        "Compute {a} + {b}.",
        "Add {a} and {b}.",
        "What's the sum of {a} and {b}?",
        "Calculate {a}+{b}.",
        "{a} + {b} = ?",
        "Can you add {a} and {b} for me?",
    ),
    "sub": (
        "What is {a} - {b}?",
        "What is {a} minus {b}?",
        "Subtract {b} from {a}.",
        "Compute {a} - {b}.",
        "What is the difference between {a} and {b}?",
        "Calculate {a}-{b}.",
        "{a} - {b} = ?",
        "What do you get if you take {b} away from {a}?",
    ),
    "mul": (
        "What is {a} × {b}?",
        "What is {a} times {b}?",
        "Multiply {a} by {b}.",
        "Compute {a} * {b}.",
        "What's the product of {a} and {b}?",
        "Calculate {a}x{b}.",
        "{a} × {b} = ?",
        "How much is {a} times {b}?",
    ),
    "div": (
        "What is {a} ÷ {b}?",
        "What is {a} divided by {b}?",
        "Divide {a} by {b}.",
        "Compute {a} / {b}.",
        "How many times does {b} go into {a}?",
        "Calculate {a}/{b}.",
        "{a} ÷ {b} = ?",
    ),
    "add_mul": (
        "What is {a} + {b} × {c}?",
        "Compute {a} + {b} * {c}.",
        "Evaluate {a} + {b} × {c}.",
        "What does {a} + {b} × {c} equal?",
    ),
    "mul_sub": (
        "What is {a} × {b} - {c}?",
        "Compute {a} * {b} - {c}.",
        "Evaluate {a} × {b} - {c}.",
        "What does {a} × {b} - {c} equal?",
    ),
    "paren_mul": (
        "What is ({a} + {b}) × {c}?",
        "Compute ({a} + {b}) * {c}.",
        "Evaluate ({a} + {b}) × {c}.",
        "What does ({a} + {b}) × {c} equal?",
    ),
    "word_add": (
        "{name} has {a} {items} and then gets {b} more. How many {items} does {name} have now?",
        "{name} collected {a} {items} on Monday and {b} on Tuesday. How many {items} is that in total?",
        "There are {a} {items} in one box and {b} in another. How many {items} are there altogether?",
    ),
    "word_sub": (
        "{name} had {a} {items} and gave {b} of them away. How many {items} are left?",
        "A shop had {a} {items} and sold {b} of them. How many {items} does the shop have left?",
        "{name} had {a} {items} but lost {b}. How many {items} does {name} still have?",
    ),
    "word_mul": (
        "{name} buys {a} packs of {items} with {b} in each pack. How many {items} is that?",
        "A shelf has {a} rows with {b} {items} in each row. How many {items} are on the shelf?",
        "Each of {a} children brings {b} {items}. How many {items} do they bring in total?",
    ),
    "word_div": (
        "{name} shares {a} {items} equally among {b} friends. How many {items} does each friend get?",
        "{a} {items} are packed into bags of {b}. How many bags are filled?",
        "A teacher splits {a} {items} evenly between {b} tables. How many {items} go on each table?",
    ),
}
_SUFFIXES = ("", "", "", " Show your work.", " Please explain your reasoning.", " Thanks!", " Quick answer please.")
_SYSTEMS = (
    None,
    None,
    None,
    None,
    "You are a helpful math tutor.",
    "You are a careful assistant. Check your arithmetic.",
)

_KINDS = tuple(_TEMPLATES)


def _operands(rng: random.Random, kind: str) -> tuple[dict[str, int], int, str]:
    big = rng.random() < 0.5
    base = kind.replace("word_", "")
    if base == "add":
        a, b = (rng.randint(10, 999), rng.randint(10, 999)) if big else (rng.randint(2, 60), rng.randint(2, 60))
        return {"a": a, "b": b}, a + b, f"{a} + {b}"
    if base == "sub":
        a, b = (rng.randint(100, 999), rng.randint(10, 99)) if big else (rng.randint(12, 80), rng.randint(2, 11))
        if rng.random() < 0.15 and not kind.startswith("word"):
            a, b = b, a  # a negative result now and then
        return {"a": a, "b": b}, a - b, f"{a} - {b}"
    if base == "mul":
        a, b = (rng.randint(11, 99), rng.randint(3, 19)) if big else (rng.randint(2, 12), rng.randint(2, 12))
        return {"a": a, "b": b}, a * b, f"{a} × {b}"
    if base == "div":
        b, q = (rng.randint(3, 19), rng.randint(11, 60)) if big else (rng.randint(2, 9), rng.randint(2, 12))
        return {"a": b * q, "b": b}, q, f"{b * q} ÷ {b}"
    a, b, c = rng.randint(2, 40), rng.randint(2, 12), rng.randint(2, 12)
    if kind == "add_mul":
        return {"a": a, "b": b, "c": c}, a + b * c, f"{a} + {b} × {c}"
    if kind == "mul_sub":
        return {"a": b, "b": c, "c": a}, b * c - a, f"{b} × {c} - {a}"
    return {"a": a, "b": b, "c": c}, (a + b) * c, f"({a} + {b}) × {c}"


def make_prompt(rng: random.Random) -> tuple[list[dict[str, str]], dict[str, Any]]:
    kind = rng.choice(_KINDS)
    ops, answer, expr = _operands(rng, kind)
    name, items = rng.choice(NAMES), rng.choice(ITEMS)
    q = rng.choice(_TEMPLATES[kind]).format(name=name, items=items, **ops)
    suffix = rng.choice(_SUFFIXES)
    meta = {
        "family": NAME,
        "aspect": ASPECT,
        "kind": kind,
        "answer": answer,
        "expression": expr,
        "operands": ops,
        "show_work": suffix in (" Show your work.", " Please explain your reasoning."),
    }
    if kind.startswith("word"):
        meta.update(name=name, items=items)
    return user(q + suffix, rng.choice(_SYSTEMS)), meta


# ------------------------------------------------------------------------------------------------ responses


def _wrong_value(rng: random.Random, meta: dict[str, Any]) -> int:
    ans, ops, kind = meta["answer"], meta["operands"], meta["kind"]
    for _ in range(50):
        mode = rng.choice(("small", "small", "ten", "digits", "op", "scale"))
        if mode == "small":
            w = ans + rng.choice((-1, 1)) * rng.randint(1, 3)
        elif mode == "ten":
            w = ans + rng.choice((-10, 10, -20, 20))
        elif mode == "digits":
            s = str(abs(ans))
            if len(s) < 2:
                continue
            i = rng.randrange(len(s) - 1)
            s2 = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
            w = int(s2) * (1 if ans >= 0 else -1)
        elif mode == "op":
            a, b = ops["a"], ops["b"]
            base = kind.replace("word_", "")
            w = {"add": a * b if a * b < 100000 else a - b, "sub": a + b, "mul": a + b, "div": a - b}.get(
                base, (a + ops.get("b", 0)) * ops.get("c", 1) if kind == "add_mul" else a + b + ops.get("c", 0)
            )
        else:
            w = ans * 10 if rng.random() < 0.5 else ans // 10 if abs(ans) >= 20 else ans + 5
        if w != ans and (w >= 0 or ans < 0 or not kind.startswith("word")):
            return w
    return ans + 1


def _worked(rng: random.Random, meta: dict[str, Any], v: int) -> str:
    kind, ops = meta["kind"], meta["operands"]
    a, b, c = ops["a"], ops["b"], ops.get("c")
    V = fmt_num(v)
    if kind == "add":
        return rng.choice(
            (
                f"Let's add them: {a} + {b} = {V}.",
                f"Adding {a} and {b} gives {V}, so the answer is {V}.",
                f"{a} plus {b} makes {V}. The answer is {V}.",
            )
        )
    if kind == "sub":
        return rng.choice(
            (
                f"Subtracting {b} from {a} leaves {V}.",
                f"{a} - {b} = {V}, so the answer is {V}.",
                f"Taking {b} away from {a} gives {V}.",
            )
        )
    if kind == "mul":
        if b >= 10:
            b1, b2 = 10, b - 10
            return (
                f"Split it up: {a} × {b} = {a} × {b1} + {a} × {b2} = {a * b1} + {a * b2} = {V}. So the answer is {V}."
            )
        return rng.choice(
            (
                f"Multiplying {a} by {b} gives {V}.",
                f"{a} × {b} = {V}, so the answer is {V}.",
                f"{b} groups of {a} make {V}.",
            )
        )
    if kind == "div":
        return rng.choice(
            (
                f"{b} goes into {a} exactly {V} times, so the answer is {V}.",
                f"Dividing {a} by {b} gives {V}.",
                f"{a} ÷ {b} = {V}, so the answer is {V}.",
            )
        )
    if kind == "add_mul":
        return f"Multiplication comes first: {b} × {c} = {b * c}. Then {a} + {b * c} = {V}. The answer is {V}."
    if kind == "mul_sub":
        return f"First, {a} × {b} = {a * b}. Then {a * b} - {c} = {V}. So the answer is {V}."
    if kind == "paren_mul":
        return f"Start with the brackets: {a} + {b} = {a + b}. Then {a + b} × {c} = {V}. The answer is {V}."
    items = meta["items"]
    if kind == "word_add":
        return f"Start with {a} {items} and add {b}: {a} + {b} = {V}. That makes {V} {items}."
    if kind == "word_sub":
        return f"Start with {a} {items} and take away {b}: {a} - {b} = {V}. So {V} {items} are left."
    if kind == "word_mul":
        return f"There are {a} groups of {b}, so {a} × {b} = {V}. That is {V} {items}."
    return f"Split {a} {items} into {b} equal parts: {a} ÷ {b} = {V}. So the answer is {V}."


def _render(rng: random.Random, meta: dict[str, Any], v: int, style: str) -> str:
    V = fmt_num(v)
    expr = meta["expression"]
    if style == "short":
        return rng.choice((f"{V}", f"{V}.", f"**{V}**"))
    if style == "sentence":
        if meta["kind"].startswith("word") and rng.random() < 0.5:
            return rng.choice(
                (
                    f"The answer is {V} {meta['items']}.",
                    f"That makes {V} {meta['items']} in all." if meta["kind"] != "word_div" else f"The answer is {V}.",
                )
            )
        return rng.choice(
            (f"The answer is {V}.", f"That comes to {V}.", f"It's {V}.", f"The result is {V}.", f"{V} is the answer.")
        )
    if style == "equation":
        return rng.choice((f"{expr} = {V}", f"{expr} = {V}.", f"{expr} = **{V}**"))
    if style == "worked":
        return _worked(rng, meta, v)
    if style == "confident":
        return rng.choice(
            (
                f"The answer is definitely {V}. I double-checked it.",
                f"It's {V}, no doubt about it.",
                f"Easy: {V}. I'm completely sure about this.",
                f"That's simple, it's {V}. Anyone can see that right away.",
            )
        )
    # hedged
    return rng.choice(
        (
            f"I think it's {V}.",
            f"If I'm not mistaken, the answer is {V}.",
            f"I believe the answer is {V}, but feel free to double-check.",
            f"Probably {V}.",
        )
    )


def make_responses(rng: random.Random, meta: dict[str, Any]) -> tuple[str, str, str]:
    wrong = _wrong_value(rng, meta)
    if meta["show_work"]:
        styles = ("worked", "worked", "worked", "equation")
    else:
        styles = ("short", "sentence", "sentence", "equation", "worked", "hedged", "confident")
    if rng.random() < 0.2:
        variant = "wrong_confident"
        c_style, r_style = rng.choice(("hedged", "short", "sentence", "worked")), "confident"
    else:
        variant = "wrong_result"
        c_style, r_style = rng.choice(styles), rng.choice(styles)
    return _render(rng, meta, meta["answer"], c_style), _render(rng, meta, wrong, r_style), variant


# ----------------------------------------------------------------------------------------------------- gold


def correctness(answer: float, response: str) -> float:
    """1.0 when the response's final number equals `answer`; <= 0.25 for a wrong number; 0.0 for none."""
    x = final_number(response)
    if x is None:
        return 0.0
    if abs(x - answer) < 1e-9:
        return 1.0
    rel = abs(x - answer) / max(10.0, abs(answer))
    return 0.25 * max(0.0, 1.0 - rel)


def score(meta: dict[str, Any], response: str) -> float:
    return correctness(meta["answer"], response)


FAMILY = Family(
    NAME,
    ASPECT,
    make_prompt,
    make_responses,
    score,
    "arithmetic (sums, differences, products, quotients, two-step, word problems): right vs wrong result",
)
