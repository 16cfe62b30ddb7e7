"""The built-in, offline preference suite with programmatic gold scorers.

Seven task families, each tagged with one aspect:

    relevance     (relevance)     answers the question asked vs a fluent answer to a different question
    format        (format)        follows a format instruction (case, bullet count, JSON keys, ...) vs ignores it
    harmlessness  (harmlessness)  refuses harmful requests / helps benign look-alikes vs complies / over-refuses
    language      (language)      answers in the requested language vs in English (or another language)
    arithmetic    (correctness)   correct result vs wrong (sometimes confidently wrong) result
    factual       (correctness)   correct fact vs wrong fact (capitals, chemical symbols, units, authors)
    conciseness   (conciseness)   short correct answer vs long rambling or short wrong answer

Usage:

    pairs = build_suite(n_per_family=200, seed=0)            # list[PreferencePair], deterministic
    train, heldout = split_pairs(pairs, 0.2, seed=0)         # rewardkit.data.sources: stratified by family
    prompts = suite_prompts(64, seed=1, exclude=pairs)       # fresh prompts (no responses) for best-of-N / RL
    reward = gold_score(prompts[0].meta, "some generated text")   # in [0, 1]

Determinism: every family draws its prompts from `random.Random(f"rewardkit-suite:{seed}:{family}:prompts")`
and its responses from a second, separate stream, so the same seed gives the same pairs on any machine, the
prompts of `suite_prompts(n, seed)` are exactly those of `build_suite(n, seed)`, and selecting a subset of
families does not change the pairs of the others. Prompts are unique within a family.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from ..record import PreferencePair
from . import arithmetic, conciseness, factual, formatting, harmlessness, language, relevance
from .base import SOURCE, Family, SuitePrompt, prompt_key

__all__ = [
    "FAMILIES",
    "FAMILY_ASPECTS",
    "SOURCE",
    "SuitePrompt",
    "Family",
    "build_suite",
    "suite_prompts",
    "gold_score",
    "suite_stats",
    "get_family",
]

_FAMILY_LIST: tuple[Family, ...] = (
    relevance.FAMILY,
    formatting.FAMILY,
    harmlessness.FAMILY,
    language.FAMILY,
    arithmetic.FAMILY,
    factual.FAMILY,
    conciseness.FAMILY,
)
_BY_NAME: dict[str, Family] = {f.name: f for f in _FAMILY_LIST}

FAMILIES: tuple[str, ...] = tuple(f.name for f in _FAMILY_LIST)
FAMILY_ASPECTS: dict[str, str] = {f.name: f.aspect for f in _FAMILY_LIST}


def get_family(name: str) -> Family:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown suite family {name!r}; known families: {', '.join(FAMILIES)}") from None


def _resolve(families: Sequence[str] | None) -> list[Family]:
    if families is None:
        return list(_FAMILY_LIST)
    if isinstance(families, str):
        families = [families]
    out = [get_family(n) for n in families]
    if len({f.name for f in out}) != len(out):
        raise ValueError(f"duplicate family in {list(families)}")
    return out


def _exclude_keys(exclude: Iterable[Any] | None) -> set[str]:
    keys: set[str] = set()
    for item in exclude or ():
        if isinstance(item, str):
            keys.add(item)
        elif isinstance(item, (PreferencePair, SuitePrompt)):
            keys.add(prompt_key(item.prompt))
        elif isinstance(item, dict) and "prompt" in item:
            keys.add(prompt_key(item["prompt"]))
        else:  # a list of messages
            keys.add(prompt_key(item))
    return keys


def _prompts_for(fam: Family, n: int, seed: int, exclude: set[str]) -> list[SuitePrompt]:
    rng = random.Random(f"rewardkit-suite:{seed}:{fam.name}:prompts")
    seen = set(exclude)
    out: list[SuitePrompt] = []
    attempts, max_attempts = 0, 100 * n + 1000
    while len(out) < n:
        messages, meta = fam.make_prompt(rng)
        attempts += 1
        key = prompt_key(messages)
        if key in seen and attempts < max_attempts:
            continue  # unique prompts within a family (and none of the excluded ones) while the space allows
        seen.add(key)
        out.append(SuitePrompt(prompt=messages, meta=meta))
    return out


def _check_n(n_per_family: int) -> None:
    if not isinstance(n_per_family, int) or isinstance(n_per_family, bool) or n_per_family < 0:
        raise ValueError(f"n_per_family must be a non-negative int, got {n_per_family!r}")


def suite_prompts(
    n_per_family: int = 200, seed: int = 0, families: Sequence[str] | None = None, exclude: Iterable[Any] | None = None
) -> list[SuitePrompt]:
    """Suite prompts with gold-scorer meta and no responses, for best-of-N selection and RL.

    With the same seed (and no `exclude`) these are exactly the prompts of `build_suite`; use another seed for
    held-out prompts, and pass the training pairs/prompts (or prompt keys) as `exclude` to guarantee that no
    prompt text repeats one of them.
    """
    _check_n(n_per_family)
    skip = _exclude_keys(exclude)
    out: list[SuitePrompt] = []
    for fam in _resolve(families):
        out.extend(_prompts_for(fam, n_per_family, seed, skip))
    return out


def build_suite(n_per_family: int = 200, seed: int = 0, families: Sequence[str] | None = None) -> list[PreferencePair]:
    """Generate the preference suite: `n_per_family` pairs per family, grouped by family in `FAMILIES` order.

    Each pair has subset = family, source = "rewardkit-suite", aspects = [aspect], meta = the prompt's gold meta
    plus "variant" (how the rejected response was built) and "id", and chosen_score / rejected_score = the gold
    scores of the two responses (chosen_score > rejected_score for every pair).
    """
    _check_n(n_per_family)
    pairs: list[PreferencePair] = []
    for fam in _resolve(families):
        rng = random.Random(f"rewardkit-suite:{seed}:{fam.name}:responses")
        for i, sp in enumerate(_prompts_for(fam, n_per_family, seed, set())):
            chosen, rejected, variant = fam.make_responses(rng, sp.meta)
            meta = dict(sp.meta, variant=variant, id=f"{fam.name}-{seed}-{i}")
            pairs.append(
                PreferencePair(
                    prompt=sp.prompt,
                    chosen=chosen,
                    rejected=rejected,
                    subset=fam.name,
                    source=SOURCE,
                    aspects=[fam.aspect],
                    chosen_score=fam.score(sp.meta, chosen),
                    rejected_score=fam.score(sp.meta, rejected),
                    meta=meta,
                )
            )
    return pairs


def gold_score(prompt_meta: dict[str, Any], response: str) -> float:
    """Programmatic gold reward in [0, 1] of any response text for a suite prompt (dispatches on meta["family"])."""
    if not isinstance(prompt_meta, dict) or "family" not in prompt_meta:
        raise ValueError("prompt_meta must be a suite meta dict with a 'family' key")
    if not isinstance(response, str):
        raise TypeError(f"response must be a string, got {type(response).__name__}")
    value = get_family(prompt_meta["family"]).score(prompt_meta, response)
    return min(1.0, max(0.0, float(value)))


def suite_stats(pairs: Sequence[PreferencePair]) -> dict[str, dict[str, float]]:
    """Per-subset and overall ("all") statistics: n, chosen_longer / ties (by characters), mean chosen/rejected
    length, and gold_accuracy (share of pairs whose gold score prefers the chosen response)."""
    groups: dict[str, list[PreferencePair]] = defaultdict(list)
    for p in pairs:
        groups[p.subset or ""].append(p)
        groups["all"].append(p)
    stats: dict[str, dict[str, float]] = {}
    for name, ps in groups.items():
        n = len(ps)
        scored = [p for p in ps if "family" in p.meta]
        stats[name] = {
            "n": n,
            "chosen_longer": sum(len(p.chosen) > len(p.rejected) for p in ps) / n,
            "ties": sum(len(p.chosen) == len(p.rejected) for p in ps) / n,
            "mean_chosen_chars": sum(len(p.chosen) for p in ps) / n,
            "mean_rejected_chars": sum(len(p.rejected) for p in ps) / n,
            "gold_accuracy": (
                sum(gold_score(p.meta, p.chosen) > gold_score(p.meta, p.rejected) for p in scored) / len(scored)
            )
            if scored
            else float("nan"),
        }
    return stats
