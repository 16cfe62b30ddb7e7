"""Factual correctness: capitals, chemical symbols, unit conversions and authors; correct vs wrong fact.

Gold scorer: 1.0 when the response names the right answer and no competing answer of the same kind, 0.5 when
it names both, 0.15 when it names neither (a non-answer), 0.0 when it names only a wrong one.
"""

from __future__ import annotations

import random
import re
from functools import cache, lru_cache
from typing import Any

from .base import Family, lower_first, numbers_in, strip_accents, user

NAME = "factual"
ASPECT = "correctness"

CAPITALS: tuple[tuple[str, str], ...] = (
    ("France", "Paris"),
    ("Germany", "Berlin"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Portugal", "Lisbon"),
    ("Japan", "Tokyo"),
    ("China", "Beijing"),
    ("India", "New Delhi"),
    ("Russia", "Moscow"),
    ("Canada", "Ottawa"),
    ("Australia", "Canberra"),
    ("Brazil", "Brasília"),
    ("Argentina", "Buenos Aires"),
    ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"),
    ("Nigeria", "Abuja"),
    ("Greece", "Athens"),
    ("Turkey", "Ankara"),
    ("Poland", "Warsaw"),
    ("Sweden", "Stockholm"),
    ("Norway", "Oslo"),
    ("Finland", "Helsinki"),
    ("Denmark", "Copenhagen"),
    ("the Netherlands", "Amsterdam"),
    ("Belgium", "Brussels"),
    ("Austria", "Vienna"),
    ("Switzerland", "Bern"),
    ("Ireland", "Dublin"),
    ("Hungary", "Budapest"),
    ("the Czech Republic", "Prague"),
    ("Thailand", "Bangkok"),
    ("Vietnam", "Hanoi"),
    ("South Korea", "Seoul"),
    ("Indonesia", "Jakarta"),
    ("the Philippines", "Manila"),
    ("Peru", "Lima"),
    ("Chile", "Santiago"),
    ("Colombia", "Bogotá"),
    ("Cuba", "Havana"),
    ("Morocco", "Rabat"),
    ("Ghana", "Accra"),
    ("Ethiopia", "Addis Ababa"),
    ("Iran", "Tehran"),
    ("Saudi Arabia", "Riyadh"),
    ("Pakistan", "Islamabad"),
    ("New Zealand", "Wellington"),
    ("Ukraine", "Kyiv"),
    ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"),
    ("Croatia", "Zagreb"),
    ("Serbia", "Belgrade"),
    ("Iceland", "Reykjavik"),
    ("Venezuela", "Caracas"),
    ("Uruguay", "Montevideo"),
    ("Malaysia", "Kuala Lumpur"),
    ("Bangladesh", "Dhaka"),
    ("Nepal", "Kathmandu"),
    ("Lebanon", "Beirut"),
    ("Zimbabwe", "Harare"),
    ("Senegal", "Dakar"),
    ("Estonia", "Tallinn"),
    ("Latvia", "Riga"),
    ("Lithuania", "Vilnius"),
    ("Slovakia", "Bratislava"),
    ("Jamaica", "Kingston"),
    ("Mexico", "Mexico City"),
    ("Scotland", "Edinburgh"),
    ("Wales", "Cardiff"),
)
CAPITAL_ALIASES = {"New Delhi": ("New Delhi", "Delhi"), "Kyiv": ("Kyiv", "Kiev"), "Mexico City": ("Mexico City",)}
# plausible wrong answers: big cities that are not the capital
CAPITAL_MISTAKES = {
    "Australia": ("Sydney", "Melbourne"),
    "Canada": ("Toronto", "Vancouver", "Montreal"),
    "Turkey": ("Istanbul",),
    "Brazil": ("Rio de Janeiro", "São Paulo"),
    "Switzerland": ("Zurich", "Geneva"),
    "Nigeria": ("Lagos",),
    "Morocco": ("Casablanca", "Marrakesh"),
    "New Zealand": ("Auckland",),
    "India": ("Mumbai", "Kolkata"),
    "China": ("Shanghai", "Hong Kong"),
    "Pakistan": ("Karachi", "Lahore"),
    "Vietnam": ("Ho Chi Minh City",),
    "Germany": ("Munich", "Hamburg"),
    "Italy": ("Milan",),
    "Spain": ("Barcelona",),
    "the Netherlands": ("Rotterdam",),
    "Scotland": ("Glasgow",),
    "Japan": ("Osaka", "Kyoto"),
    "Russia": ("Saint Petersburg",),
    "Poland": ("Krakow",),
    "Kenya": ("Mombasa",),
    "Ghana": ("Kumasi",),
    "France": ("Lyon", "Marseille"),
    "Egypt": ("Alexandria",),
    "Colombia": ("Medellín",),
    "Peru": ("Cusco",),
}

ELEMENTS: tuple[tuple[str, str], ...] = (
    ("gold", "Au"),
    ("silver", "Ag"),
    ("iron", "Fe"),
    ("sodium", "Na"),
    ("lead", "Pb"),
    ("copper", "Cu"),
    ("tin", "Sn"),
    ("mercury", "Hg"),
    ("calcium", "Ca"),
    ("zinc", "Zn"),
    ("chlorine", "Cl"),
    ("magnesium", "Mg"),
    ("aluminium", "Al"),
    ("silicon", "Si"),
    ("lithium", "Li"),
    ("nickel", "Ni"),
    ("platinum", "Pt"),
    ("argon", "Ar"),
    ("manganese", "Mn"),
    ("chromium", "Cr"),
    ("titanium", "Ti"),
    ("bromine", "Br"),
    ("krypton", "Kr"),
)

UNITS: tuple[tuple[str, str, int], ...] = (
    ("centimeters", "meter", 100),
    ("millimeters", "centimeter", 10),
    ("meters", "kilometer", 1000),
    ("grams", "kilogram", 1000),
    ("milliliters", "liter", 1000),
    ("seconds", "minute", 60),
    ("minutes", "hour", 60),
    ("hours", "day", 24),
    ("days", "week", 7),
    ("months", "year", 12),
    ("inches", "foot", 12),
    ("feet", "yard", 3),
    ("ounces", "pound", 16),
    ("years", "decade", 10),
    ("years", "century", 100),
    ("days", "leap year", 366),
    ("milligrams", "gram", 1000),
    ("years", "millennium", 1000),
    ("cents", "dollar", 100),
)
_UNIT_MISTAKES = {
    100: (10, 1000, 60),
    10: (100, 12),
    1000: (100, 10000),
    60: (100, 24, 30),
    24: (12, 60),
    7: (5, 10),
    12: (10, 24),
    3: (12, 10),
    16: (12, 10),
    366: (365, 360),
}

AUTHORS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Pride and Prejudice", "Jane Austen", ("Austen",)),
    ("1984", "George Orwell", ("Orwell",)),
    ("Hamlet", "William Shakespeare", ("Shakespeare",)),
    ("Romeo and Juliet", "William Shakespeare", ("Shakespeare",)),
    ("The Odyssey", "Homer", ()),
    ("War and Peace", "Leo Tolstoy", ("Tolstoy",)),
    ("Don Quixote", "Miguel de Cervantes", ("Cervantes",)),
    ("Moby-Dick", "Herman Melville", ("Melville",)),
    ("Frankenstein", "Mary Shelley", ("Shelley",)),
    ("The Great Gatsby", "F. Scott Fitzgerald", ("Fitzgerald",)),
    ("Les Misérables", "Victor Hugo", ("Hugo",)),
    ("Crime and Punishment", "Fyodor Dostoevsky", ("Dostoevsky",)),
    ("Great Expectations", "Charles Dickens", ("Dickens",)),
    ("Oliver Twist", "Charles Dickens", ("Dickens",)),
    ("The Adventures of Tom Sawyer", "Mark Twain", ("Twain",)),
    ("Jane Eyre", "Charlotte Brontë", ()),
    ("The Hobbit", "J. R. R. Tolkien", ("Tolkien",)),
    ("Dracula", "Bram Stoker", ("Stoker",)),
    ("Anna Karenina", "Leo Tolstoy", ("Tolstoy",)),
    ("Madame Bovary", "Gustave Flaubert", ("Flaubert",)),
    ("Brave New World", "Aldous Huxley", ("Huxley",)),
    ("To Kill a Mockingbird", "Harper Lee", ()),
    ("The Old Man and the Sea", "Ernest Hemingway", ("Hemingway",)),
    ("Alice's Adventures in Wonderland", "Lewis Carroll", ("Carroll",)),
    ("Faust", "Johann Wolfgang von Goethe", ("Goethe",)),
    ("The Metamorphosis", "Franz Kafka", ("Kafka",)),
    ("One Hundred Years of Solitude", "Gabriel García Márquez", ("Márquez",)),
    ("Treasure Island", "Robert Louis Stevenson", ("Stevenson",)),
    ("Little Women", "Louisa May Alcott", ("Alcott",)),
    ("The Catcher in the Rye", "J. D. Salinger", ("Salinger",)),
    ("Of Mice and Men", "John Steinbeck", ("Steinbeck",)),
    ("Animal Farm", "George Orwell", ("Orwell",)),
    ("Macbeth", "William Shakespeare", ("Shakespeare",)),
    ("A Christmas Carol", "Charles Dickens", ("Dickens",)),
    ("The Little Prince", "Antoine de Saint-Exupéry", ("Saint-Exupéry",)),
)

KINDS = ("capital", "symbol", "unit", "author")


# ----------------------------------------------------------------------------------------------- questions

_Q = {
    "capital": (
        "What is the capital of {s}?",
        "Which city is the capital of {s}?",
        "Name the capital city of {s}.",
        "What's the capital of {s}?",
        "Quick geography question: what is the capital of {s}?",
        "Tell me the capital of {s}.",
        "Do you know the capital of {s}?",
    ),
    "symbol": (
        "What is the chemical symbol for {s}?",
        "Which symbol represents {s} on the periodic table?",
        "What's the element symbol of {s}?",
        "How is {s} written on the periodic table?",
        "Give me the chemical symbol of {s}.",
    ),
    "unit": (
        "How many {small} are in a {big}?",
        "How many {small} make one {big}?",
        "A {big} equals how many {small}?",
        "How many {small} are there in one {big}?",
        "Convert one {big} into {small}.",
    ),
    "author": (
        "Who wrote {s}?",
        "Who is the author of {s}?",
        "Which writer wrote {s}?",
        "Who wrote the book {s}?",
        "Can you tell me who wrote {s}?",
    ),
}


def question(rng: random.Random, kind: str | None = None) -> tuple[str, dict[str, Any]]:
    """A factual question and its gold meta (kind, subject, answer, aliases)."""
    kind = kind or rng.choice(KINDS)
    if kind == "capital":
        s, a = rng.choice(CAPITALS)
        q = rng.choice(_Q[kind]).format(s=s)
        meta = {"kind": kind, "subject": s, "answer": a, "aliases": list(CAPITAL_ALIASES.get(a, (a,)))}
    elif kind == "symbol":
        s, a = rng.choice(ELEMENTS)
        q = rng.choice(_Q[kind]).format(s=s)
        meta = {"kind": kind, "subject": s, "answer": a, "aliases": [a]}
    elif kind == "unit":
        small, big, n = rng.choice(UNITS)
        q = rng.choice(_Q[kind]).format(small=small, big=big)
        meta = {"kind": kind, "subject": big, "unit": small, "answer": n, "aliases": [str(n)]}
    else:
        s, a, al = rng.choice(AUTHORS)
        q = rng.choice(_Q[kind]).format(s=s)
        meta = {"kind": kind, "subject": s, "answer": a, "aliases": [a, *al]}
    return q, meta


def wrong_answer(rng: random.Random, meta: dict[str, Any]) -> str | int:
    kind, ans = meta["kind"], meta["answer"]
    if kind == "capital":
        mistakes = CAPITAL_MISTAKES.get(meta["subject"], ())
        if mistakes and rng.random() < 0.7:
            return rng.choice(mistakes)
        return rng.choice([c for _, c in CAPITALS if c != ans])
    if kind == "symbol":
        return rng.choice([sym for _, sym in ELEMENTS if sym != ans])
    if kind == "unit":
        opts = [m for m in _UNIT_MISTAKES.get(ans, ()) if m != ans] + [ans * 10, ans + rng.randint(1, 5)]
        return rng.choice(opts)
    return rng.choice(sorted({a for _, a, _ in AUTHORS if a != ans}))


_SHORT = {
    "capital": ("{a}.", "It's {a}.", "{a} is the capital.", "That would be {a}."),
    "symbol": ("{a}.", "It's {a}.", "The symbol is {a}.", "{a} is its symbol."),
    "unit": ("{a}.", "{a} {unit}.", "It's {a}.", "There are {a}."),
    "author": ("{a}.", "It was {a}.", "{a} wrote it.", "That was {a}."),
}
_LONG = {
    "capital": (
        "The capital of {s} is {a}.",
        "{a} is the capital of {s}.",
        "The capital city of {s} is {a}.",
        "{s_cap}'s capital city is {a}.",
        "{a} is the capital city of {s}, and it is also a major cultural centre.",
    ),
    "symbol": (
        "The chemical symbol for {s} is {a}.",
        "{s_cap} has the symbol {a}.",
        "On the periodic table, {s} is written as {a}.",
        "{a} is the chemical symbol for {s}.",
    ),
    "unit": (
        "There are {a} {unit} in a {s}.",
        "One {s} equals {a} {unit}.",
        "A {s} has {a} {unit}.",
        "One {s} is the same as {a} {unit}.",
    ),
    "author": (
        "{s} was written by {a}.",
        "{a} wrote {s}.",
        "The author of {s} is {a}.",
        "{s} is a famous work by {a}.",
    ),
}
_CONFIDENT = ("I'm absolutely certain: {x}", "Definitely. {x}", "{x} Everyone knows that.", "No doubt about it. {x}")
_HEDGED = (
    "I believe {x_low}",
    "If I remember correctly, {x_low}",
    "I think {x_low}",
    "{x} At least, that's my understanding.",
)
_CLOSERS = ("Hope that helps!", "Let me know if you have other questions.", "Happy to help with more trivia.")


def render(rng: random.Random, meta: dict[str, Any], value: str | int, length: str = "any") -> str:
    """One answer sentence stating `value` for the question in `meta` (length: "short", "long" or "any")."""
    kind = meta["kind"]
    pool = {"short": _SHORT[kind], "long": _LONG[kind]}.get(length, _SHORT[kind] + _LONG[kind])
    s = meta["subject"]
    return rng.choice(pool).format(a=value, s=s, s_cap=s[:1].upper() + s[1:], unit=meta.get("unit", ""))


_PREFIXES = (
    "",
    "",
    "",
    "",
    "Hi! ",
    "Quick question: ",
    "I always forget this. ",
    "Trivia time! ",
    "Hey, ",
    "Settle a bet for me: ",
)
_SUFFIXES = ("", "", "", "", " Thanks!", " Just curious.", " I need it for a quiz.", " Please answer briefly.")


def make_prompt(rng: random.Random) -> tuple[list[dict[str, str]], dict[str, Any]]:
    q, qmeta = question(rng)
    system = rng.choice((None, None, None, "You are a helpful assistant.", "Answer factual questions accurately."))
    prefix = rng.choice(_PREFIXES)
    text = prefix + (lower_first(q) if prefix.endswith((", ", ": ")) else q) + rng.choice(_SUFFIXES)
    return user(text, system), {"family": NAME, "aspect": ASPECT, **qmeta}


def _decorate(rng: random.Random, text: str, style: str) -> str:
    if style == "confident":
        return rng.choice(_CONFIDENT).format(x=text, x_low=text[:1].lower() + text[1:])
    if style == "hedged":
        t = (
            text
            if text[:1].isupper() and text.split(" ", 1)[0] not in ("The", "It", "That", "There", "A", "One", "On")
            else text[:1].lower() + text[1:]
        )
        return rng.choice(_HEDGED).format(x=text, x_low=t)
    return text


def make_responses(rng: random.Random, meta: dict[str, Any]) -> tuple[str, str, str]:
    wrong = wrong_answer(rng, meta)
    if rng.random() < 0.25:
        variant = "wrong_confident"
        chosen = _decorate(rng, render(rng, meta, meta["answer"], "long"), rng.choice(("hedged", "plain")))
        rejected = _decorate(rng, render(rng, meta, wrong, "long"), "confident")
    else:
        variant = "wrong_fact"
        chosen = render(rng, meta, meta["answer"])
        rejected = render(rng, meta, wrong)
        if rng.random() < 0.2:  # confidence and hedging on either side, not only on the wrong one
            chosen = _decorate(rng, render(rng, meta, meta["answer"], "long"), rng.choice(("confident", "hedged")))
        if rng.random() < 0.1:
            rejected = _decorate(rng, render(rng, meta, wrong, "long"), "hedged")
    if rng.random() < 0.25:
        chosen += " " + rng.choice(_CLOSERS)
    if rng.random() < 0.25:
        rejected += " " + rng.choice(_CLOSERS)
    return chosen, rejected, variant


# ----------------------------------------------------------------------------------------------------- gold


def _pool(kind: str) -> list[str]:
    if kind == "capital":
        pool = [c for _, c in CAPITALS] + [m for ms in CAPITAL_MISTAKES.values() for m in ms]
        pool += [al for als in CAPITAL_ALIASES.values() for al in als]
    elif kind == "symbol":
        pool = [sym for _, sym in ELEMENTS]
    else:
        pool = [a for _, a, _ in AUTHORS] + [x for _, _, al in AUTHORS for x in al]
    return sorted({strip_accents(p) for p in pool}, key=lambda p: (-len(p), p))


@cache
def _name_regex(kind: str, extra: tuple[str, ...] = ()) -> re.Pattern[str]:
    names = sorted(set(_pool(kind)) | {strip_accents(a) for a in extra}, key=lambda p: (-len(p), p))
    flags = 0 if kind == "symbol" else re.IGNORECASE
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)", flags)


@lru_cache(maxsize=4096)
def _competitors(kind: str, aliases: tuple[str, ...]) -> frozenset[str]:
    """Known answers of the same kind that are neither an alias nor a part/extension of one (lower-cased)."""
    alias_set = {strip_accents(a).lower() for a in aliases}
    return frozenset(p.lower() for p in _pool(kind) if not any(p.lower() in a or a in p.lower() for a in alias_set))


def correctness(meta: dict[str, Any], response: str) -> float:
    """1.0 right answer only; 0.5 right and a competing answer; 0.15 neither; 0.0 only a wrong answer."""
    kind = meta["kind"]
    if kind == "unit":
        nums = [n for n in numbers_in(response) if n != 1]
        right = any(abs(n - meta["answer"]) < 1e-9 for n in nums)
        wrong = any(abs(n - meta["answer"]) >= 1e-9 for n in nums)
    else:
        aliases = tuple(meta["aliases"])
        found = {m.group(0).lower() for m in _name_regex(kind, aliases).finditer(strip_accents(response))}
        right = bool(found & {strip_accents(a).lower() for a in aliases})
        wrong = bool(found & _competitors(kind, aliases))
    if right and not wrong:
        return 1.0
    if right:
        return 0.5
    return 0.0 if wrong else 0.15


def score(meta: dict[str, Any], response: str) -> float:
    return correctness(meta, response)


FAMILY = Family(
    NAME,
    ASPECT,
    make_prompt,
    make_responses,
    score,
    "facts (capitals, chemical symbols, unit conversions, authors): correct vs wrong fact",
)
