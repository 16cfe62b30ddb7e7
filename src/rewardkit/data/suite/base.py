"""Shared pieces of the built-in preference suite: the prompt record, the family spec and text helpers.

Everything here is standard library only and deterministic: randomness always comes from an explicit
`random.Random` passed in by the caller, never from global state or `hash()`.
"""

from __future__ import annotations

import copy
import json
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

SOURCE = "rewardkit-suite"

Message = dict[str, str]


@dataclass
class SuitePrompt:
    """A suite prompt without responses: chat messages plus everything the gold scorer needs (`meta`).

    `meta["family"]` names the task family and `meta["aspect"]` its aspect tag; pass `meta` (and any response
    text) to `gold_score` to get the programmatic gold reward.
    """

    prompt: list[Message]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str | None:
        return self.meta.get("family")

    @property
    def aspect(self) -> str | None:
        return self.meta.get("aspect")

    def key(self) -> str:
        """A stable identity of the prompt text (for de-duplication and train/held-out overlap checks)."""
        return prompt_key(self.prompt)

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": [dict(m) for m in self.prompt], "meta": copy.deepcopy(self.meta)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SuitePrompt:
        return cls(prompt=[dict(m) for m in d["prompt"]], meta=copy.deepcopy(d.get("meta", {})))


def prompt_key(messages: Sequence[Message]) -> str:
    return json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)


@dataclass(frozen=True)
class Family:
    """One task family.

    make_prompt(rng) -> (messages, meta): a fresh prompt; meta holds everything `score` needs.
    make_responses(rng, meta) -> (chosen, rejected, variant): a preferred and a dispreferred response for the
        prompt; `variant` names how the rejected response was built (kept in the pair's meta for analysis).
    score(meta, response) -> float in [0, 1]: the gold scorer, defined for ANY response text.
    """

    name: str
    aspect: str
    make_prompt: Callable[[random.Random], tuple[list[Message], dict[str, Any]]]
    make_responses: Callable[[random.Random, dict[str, Any]], tuple[str, str, str]]
    score: Callable[[dict[str, Any], str], float]
    description: str = ""


# ----------------------------------------------------------------------------------------------- messages


def user(text: str, system: str | None = None) -> list[Message]:
    msgs: list[Message] = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": text})
    return msgs


def cap(text: str) -> str:
    """Upper-case the first character only (str.capitalize would lower-case the rest)."""
    return text[:1].upper() + text[1:] if text else text


def lower_first(text: str) -> str:
    """Lower-case the first character unless the first word looks like a proper noun or acronym."""
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if first == "I" or first.startswith(("I'", "I’")) or (len(first) > 1 and first[1:].lower() != first[1:]):
        return text
    return text[:1].lower() + text[1:]


# ------------------------------------------------------------------------------------------------- tokens

_WORD_RE = re.compile(r"[^\W_]+")  # letters and digits; apostrophes and hyphens split words


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Lower-cased, accent-stripped word tokens (letters and digits); apostrophes and hyphens separate words."""
    return _WORD_RE.findall(strip_accents(text).lower())


def alpha_tokens(text: str) -> list[str]:
    return [t for t in tokens(text) if not t.isdigit() and not any(ch.isdigit() for ch in t)]


def key_hit(word: str, key: str) -> bool:
    """Does a response token match a key stem? Exact, simple plural, or prefix for stems of 4+ characters."""
    return word == key or word == key + "s" or word == key + "es" or (len(key) >= 4 and word.startswith(key))


def key_overlap(keys: Sequence[Sequence[str]], text: str) -> float:
    """Fraction of key groups (each a list of alternative stems) matched by some token of `text`."""
    if not keys:
        return 0.0
    toks = set(tokens(text))
    hits = 0
    for group in keys:
        if any(key_hit(w, strip_accents(k).lower()) for k in group for w in toks):
            hits += 1
    return hits / len(keys)


# ------------------------------------------------------------------------------------------------ numbers

_NUM_PAT = r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|-?\d+(?:\.\d+)?"
_NUM_RE = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|(?<![\w.,])-?\d+(?:\.\d+)?")
# "the answer is N" / "answer: N" / "total of N" within one clause, and "N is the (final) answer"
_ANSWER_RES = (
    re.compile(r"\b(?:answer|result|total|solution)\b[^0-9\n.;!?-]{0,25}?(" + _NUM_PAT + ")", re.IGNORECASE),
    re.compile(
        r"(?<![\w.])(" + _NUM_PAT + r")\s*(?:is|was|would be)\s+(?:the\s+)?(?:final\s+|correct\s+|right\s+)?"
        r"(?:answer|result|total|solution)\b",
        re.IGNORECASE,
    ),
)

NUMBER_WORDS = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}  # "one" is left out: far more often a pronoun than an answer
_NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)


def _to_number(s: str) -> float | int:
    v = float(s.replace(",", ""))
    return int(v) if v.is_integer() else v


def numbers_in(text: str) -> list[float | int]:
    """All numbers written with digits, in order ("12,345" is one number, "3.5" one, "-4" one)."""
    return [_to_number(m.group(0)) for m in _NUM_RE.finditer(text.replace("**", " "))]


def final_number(text: str) -> float | int | None:
    """The number a response finally states as its answer.

    The last explicit statement ("the answer is N", "total: N", "N is the answer") wins; otherwise the last
    number, written with digits or as a small number word ("nineteen"); None if there is none.
    """
    clean = text.replace("**", " ").replace("__", " ")
    marked = [(m.start(1), m.group(1)) for rx in _ANSWER_RES for m in rx.finditer(clean)]
    if marked:
        return _to_number(max(marked)[1])
    found = [(m.start(), _to_number(m.group(0))) for m in _NUM_RE.finditer(clean)]
    found += [(m.start(), NUMBER_WORDS[m.group(1).lower()]) for m in _NUMBER_WORD_RE.finditer(clean)]
    return max(found, key=lambda x: x[0])[1] if found else None


def fmt_num(x: float | int) -> str:
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return str(x)
