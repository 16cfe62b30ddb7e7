"""Format following: an advice request with a format instruction (all caps, all lowercase, exactly N bullet
points, a JSON object with given keys, exactly one sentence, ends with a given word, no commas); the chosen
response follows it, the rejected one ignores it or gets it partly wrong.

Gold scorer (per instruction kind), graded by how close the response comes: share of upper-case letters (all
caps); min(share of lower-case letters, 1 / (1 + number of capitals)) (all lowercase);
1 for exactly N list items, else 0.7 * (1 - |count - N| / N); parsed JSON object with the exact keys (partial
credit for missing/extra keys, embedded JSON, or key names merely mentioned); 1 / number of sentences; last word
1, word elsewhere 0.5; 1 / (1 + number of commas).
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from .base import Family, cap, tokens, user

NAME = "format"
ASPECT = "format"

TIPS: dict[str, tuple[str, ...]] = {
    "sleeping better": (
        "keep a regular bedtime",
        "avoid screens for an hour before bed",
        "keep your bedroom cool and dark",
        "limit caffeine after lunch",
        "get some daylight in the morning",
        "avoid heavy meals late at night",
        "wind down with a book or some gentle stretching",
    ),
    "saving money": (
        "track every expense for a month",
        "cook at home more often",
        "cancel subscriptions you rarely use",
        "set up an automatic transfer to savings",
        "wait a day before any big purchase",
        "compare prices before you buy",
        "bring lunch to work",
    ),
    "studying for exams": (
        "start reviewing a few weeks early",
        "test yourself instead of rereading",
        "study in short focused sessions",
        "explain the material out loud",
        "sleep well before the exam",
        "do practice questions under time pressure",
        "keep your phone in another room",
    ),
    "staying healthy at work": (
        "stand up and stretch every hour",
        "drink water throughout the day",
        "keep healthy snacks at your desk",
        "take the stairs when you can",
        "adjust your screen to eye level",
        "take a short walk at lunch",
        "rest your eyes every twenty minutes",
    ),
    "learning to cook": (
        "start with simple recipes",
        "keep your knives sharp",
        "taste as you go",
        "prepare all ingredients before you start",
        "learn to cook eggs and rice well",
        "season with salt in small steps",
        "clean up while things simmer",
    ),
    "running a good meeting": (
        "share an agenda in advance",
        "start and end on time",
        "invite only the people who are needed",
        "give every action item an owner",
        "keep slides to a minimum",
        "summarize decisions at the end",
        "send notes the same day",
    ),
    "traveling light": (
        "pack clothes that mix and match",
        "roll your clothes instead of folding them",
        "bring travel-size toiletries",
        "wear your bulkiest shoes on the plane",
        "limit yourself to one extra pair of shoes",
        "use packing cubes",
        "plan to do laundry during the trip",
    ),
    "keeping houseplants alive": (
        "water only when the top of the soil is dry",
        "use pots with drainage holes",
        "give them bright indirect light",
        "wipe dust off the leaves",
        "keep them away from cold drafts",
        "feed them during the growing season",
        "repot them when roots fill the pot",
    ),
    "writing a cover letter": (
        "address it to a real person",
        "open with why you want this role",
        "mention one concrete achievement",
        "keep it under one page",
        "match your skills to the job ad",
        "end with a clear call to action",
        "proofread it twice",
    ),
    "reducing stress": (
        "take slow deep breaths",
        "go for a walk outside",
        "write down what is worrying you",
        "limit news and social media",
        "talk to a friend",
        "keep a regular sleep schedule",
        "break big tasks into small steps",
    ),
    "getting started with running": (
        "begin with a walk and run routine",
        "keep an easy conversational pace",
        "buy comfortable running shoes",
        "increase your distance slowly",
        "rest between running days",
        "warm up for five minutes",
        "run with a friend for motivation",
    ),
    "learning a new language": (
        "practice a little every day",
        "label things around your home",
        "watch shows with subtitles",
        "use a spaced repetition app",
        "find a conversation partner",
        "learn the most common words first",
        "accept that mistakes are part of learning",
    ),
    "organizing your desk": (
        "clear everything off once a week",
        "keep only daily tools within reach",
        "use a tray for incoming papers",
        "label your drawers",
        "hide cables with clips",
        "add a small plant",
        "shred documents you no longer need",
    ),
    "taking better photos": (
        "follow the rule of thirds",
        "shoot during golden hour",
        "keep the horizon straight",
        "get closer to your subject",
        "clean your lens",
        "turn off the flash in daylight",
        "take several shots of each scene",
    ),
    "being more productive": (
        "plan tomorrow the night before",
        "do the hardest task first",
        "turn off notifications",
        "work in focused blocks",
        "batch similar tasks together",
        "skip meetings you do not need",
        "take real breaks",
    ),
    "preparing for a job interview": (
        "research the company",
        "prepare stories about past results",
        "practice common questions out loud",
        "plan your route the day before",
        "bring copies of your resume",
        "prepare questions for the interviewer",
        "send a thank-you note afterwards",
    ),
    "making friends in a new city": (
        "join a local club or class",
        "say yes to invitations",
        "volunteer for a cause you care about",
        "chat with your neighbors",
        "use apps for meeting people with shared hobbies",
        "invite a coworker for coffee",
        "visit the same cafe regularly",
    ),
    "caring for a new puppy": (
        "set a regular feeding schedule",
        "take it outside often",
        "reward good behavior right away",
        "give it safe toys to chew",
        "start short training sessions early",
        "book a visit to the vet",
        "let it sleep a lot",
    ),
    "drinking more water": (
        "carry a reusable bottle",
        "drink a glass with every meal",
        "set reminders on your phone",
        "add lemon or fruit for flavor",
        "start the day with a glass of water",
        "eat foods with lots of water",
        "track your intake for a week",
    ),
    "keeping a tidy kitchen": (
        "wash dishes right after meals",
        "wipe the counters every evening",
        "empty the bin before it overflows",
        "store things where you use them",
        "clear out the fridge every week",
        "keep a small bin for recycling",
        "put things back as soon as you finish",
    ),
}

KINDS = ("uppercase", "lowercase", "bullets", "json", "one_sentence", "end_word", "no_commas")

_ASKS = (
    "Give me some advice on {t}.",
    "What are your best tips for {t}?",
    "I need help with {t}.",
    "Share some tips for {t}.",
    "Can you give me a few pointers on {t}?",
    "How should I approach {t}?",
    "I'm struggling with {t}. Any suggestions?",
)
_NUMWORDS = {2: "two", 3: "three", 4: "four", 5: "five"}
_INSTR = {
    "uppercase": (
        "Write your entire answer in capital letters.",
        "Respond using only uppercase letters.",
        "Use ALL CAPS for the whole reply.",
        "Your whole response must be in uppercase.",
    ),
    "lowercase": (
        "Write your answer entirely in lowercase letters.",
        "Do not use any capital letters.",
        "Reply in all lowercase.",
        "Your response must not contain a single uppercase letter.",
    ),
    "bullets": (
        "Answer with exactly {n} bullet points.",
        "Give exactly {nw} tips as a bulleted list.",
        "Use a list of exactly {n} items.",
        "Format your answer as {nw} bullet points, no more and no less.",
        "Reply with a list of {n} points.",
    ),
    "json": (
        "Respond only with a JSON object with the keys {keys}.",
        "Return valid JSON containing exactly these keys: {keys}.",
        "Answer as a JSON object with the fields {keys} and nothing else.",
        "Output a JSON object that has the keys {keys}.",
    ),
    "one_sentence": (
        "Answer in exactly one sentence.",
        "Keep your answer to a single sentence.",
        "Reply with just one sentence.",
        "Use one sentence only.",
    ),
    "end_word": (
        'End your response with the word "{w}".',
        'Make sure the very last word of your answer is "{w}".',
        'Finish your reply with the word "{w}".',
        'The final word of your response must be "{w}".',
    ),
    "no_commas": (
        "Do not use any commas in your answer.",
        "Avoid commas entirely.",
        "Write your reply without a single comma.",
        "Your answer must not contain any commas.",
    ),
}
_END_WORDS = ("today", "goodbye", "done", "enjoy", "always", "together", "forward", "now", "cheers", "success")
_END_SENTENCES = {
    "today": ("Pick one of these and start today.", "Try one of them today."),
    "goodbye": ("Good luck and goodbye.", "That is all from me for now so goodbye."),
    "done": ("Do these and you are done.", "That is it and you are done."),
    "enjoy": ("Most of all take it easy and enjoy.", "Give it a try and enjoy."),
    "always": (
        "Small habits matter more than you think and they always will. Keep going always.",
        "Be patient with yourself always.",
    ),
    "together": ("These work best when you use them together.", "Try a few of them together."),
    "forward": ("Take it one step at a time and keep moving forward.", "Every small change moves you forward."),
    "now": ("You can start right now.", "Why not begin now."),
    "cheers": ("Good luck and cheers.", "Here is to your progress and cheers."),
    "success": ("Stick with it and you will see success.", "Consistency is the real secret to success."),
}
_JSON_KEYSETS = (
    ("topic", "tips"),
    ("topic", "tip"),
    ("title", "steps"),
    ("summary", "difficulty"),
    ("topic", "advice", "priority"),
    ("name", "steps", "time_needed"),
    ("goal", "first_step"),
    ("topic", "tips", "difficulty"),
)
_JSON_RENAMES = {
    "topic": "subject",
    "tips": "advice",
    "tip": "hint",
    "title": "heading",
    "steps": "actions",
    "summary": "overview",
    "difficulty": "level",
    "advice": "suggestions",
    "priority": "importance",
    "name": "label",
    "time_needed": "duration",
    "goal": "aim",
    "first_step": "start",
}
_INTROS = (
    "Here are some tips for {t}.",
    "A few ideas for {t}:",
    "Sure! Here is some advice on {t}.",
    "Here is what usually helps with {t}.",
    "",
)
_SYSTEMS = (None, None, None, "You are a helpful assistant that follows formatting instructions exactly.")


def _quote_keys(keys: list[str]) -> str:
    q = [f'"{k}"' for k in keys]
    return " and ".join(q) if len(q) == 2 else ", ".join(q[:-1]) + " and " + q[-1]


def make_prompt(rng: random.Random) -> tuple[list[dict[str, str]], dict[str, Any]]:
    topic = rng.choice(sorted(TIPS))
    kind = rng.choice(KINDS)
    fmt: dict[str, Any] = {"kind": kind}
    if kind == "bullets":
        fmt["n"] = rng.randint(2, 5)
    elif kind == "json":
        fmt["keys"] = list(rng.choice(_JSON_KEYSETS))
    elif kind == "end_word":
        fmt["word"] = rng.choice(_END_WORDS)
    n = fmt.get("n", 0)
    instr = rng.choice(_INSTR[kind]).format(
        n=n, nw=_NUMWORDS.get(n, n), keys=_quote_keys(fmt.get("keys", ["a", "b"])), w=fmt.get("word", "")
    )
    ask = rng.choice(_ASKS).format(t=topic)
    r = rng.random()
    system = rng.choice(_SYSTEMS)
    if r < 0.7:
        text = f"{ask} {instr}"
    elif r < 0.85:
        text = f"{instr} {ask}"
    else:
        text, system = ask, instr
    return user(text, system), {"family": NAME, "aspect": ASPECT, "topic": topic, "format": fmt}


# ------------------------------------------------------------------------------------------------ responses


def _tips(rng: random.Random, topic: str, k: int) -> list[str]:
    return rng.sample(list(TIPS[topic]), k)


def _prose(rng: random.Random, topic: str, k: int, intro: bool | None = None) -> str:
    parts = [cap(t) + "." for t in _tips(rng, topic, k)]
    if intro is None:
        intro = rng.random() < 0.5
    if intro:
        i = rng.choice(_INTROS[:-1]).format(t=topic)
        parts.insert(0, i)
    return " ".join(parts)


def _bullets(rng: random.Random, topic: str, k: int) -> str:
    marker = rng.choice(("-", "*", "•", "1."))
    lines = []
    for j, t in enumerate(_tips(rng, topic, k), 1):
        m = f"{j}." if marker == "1." else marker
        lines.append(f"{m} {cap(t)}")
    intro = rng.choice(_INTROS).format(t=topic)
    return (intro + "\n" if intro else "") + "\n".join(lines)


def _json_value(rng: random.Random, key: str, topic: str) -> Any:
    if key in ("topic", "title", "name", "goal"):
        return topic if key != "goal" else f"get better at {topic}"
    if key in ("tips", "steps"):
        return [cap(t) for t in _tips(rng, topic, rng.randint(2, 4))]
    if key in ("tip", "advice", "first_step"):
        return cap(rng.choice(TIPS[topic]))
    if key == "summary":
        a, b = _tips(rng, topic, 2)
        return f"{cap(a)} and {b}."
    if key == "difficulty":
        return rng.choice(("easy", "medium", "hard"))
    if key == "priority":
        return rng.randint(1, 3)
    return rng.choice(("10 minutes a day", "one week", "a few weeks", "30 minutes"))


def _json_text(rng: random.Random, obj: dict[str, Any], fenced: bool | None = None) -> str:
    text = json.dumps(obj, ensure_ascii=False, indent=rng.choice((None, 2)))
    if fenced is None:
        fenced = rng.random() < 0.3
    return f"```json\n{text}\n```" if fenced else text


def _one_sentence(rng: random.Random, topic: str) -> str:
    k = rng.choice((2, 2, 3, 3, 4))
    ts = _tips(rng, topic, k)
    body = ", ".join(ts[:-1]) + " and " + ts[-1]
    return rng.choice(
        (f"To get better at {topic}, {body}.", f"{cap(body)}.", f"The best approach to {topic} is to {body}.")
    )


def make_responses(rng: random.Random, meta: dict[str, Any]) -> tuple[str, str, str]:
    topic, fmt = meta["topic"], meta["format"]
    kind = fmt["kind"]
    k1, k2 = rng.randint(1, 4), rng.randint(1, 4)
    if kind == "uppercase":
        chosen = _prose(rng, topic, k1).upper()
        variant = rng.choice(("normal_case", "normal_case", "partial_caps"))
        if variant == "normal_case":
            rejected = _prose(rng, topic, k2)
        else:
            first, rest = _prose(rng, topic, 1, intro=False), _prose(rng, topic, k2, intro=False)
            rejected = first.upper() + " " + rest
    elif kind == "lowercase":
        chosen = _prose(rng, topic, k1).lower()
        variant = rng.choice(("normal_case", "normal_case", "all_caps"))
        rejected = _prose(rng, topic, k2)
        if variant == "all_caps":
            rejected = rejected.upper()
    elif kind == "bullets":
        n = fmt["n"]
        chosen = _bullets(rng, topic, n)
        options = ["too_many", "prose"] + (["too_few"] if n >= 2 else [])
        variant = rng.choice(options)
        if variant == "too_many":
            rejected = _bullets(rng, topic, n + rng.randint(1, 2))
        elif variant == "too_few":
            rejected = _bullets(rng, topic, n - 1)
        else:
            rejected = _prose(rng, topic, rng.randint(max(1, n - 1), n + 1))
    elif kind == "json":
        keys = fmt["keys"]
        obj = {k: _json_value(rng, k, topic) for k in keys}
        chosen = _json_text(rng, obj)
        variant = rng.choice(("prose", "missing_key", "renamed_key", "wrapped_in_text"))
        if variant == "prose":
            rejected = _prose(rng, topic, k2)
        elif variant == "missing_key":
            drop = rng.choice(keys)
            rejected = _json_text(rng, {k: _json_value(rng, k, topic) for k in keys if k != drop})
        elif variant == "renamed_key":
            ren = rng.choice(keys)
            rejected = _json_text(
                rng, {(_JSON_RENAMES[k] if k == ren else k): _json_value(rng, k, topic) for k in keys}
            )
        else:
            rejected = (
                rng.choice(
                    (
                        "Sure! Here is the JSON you asked for:",
                        "Here you go:",
                        "Of course. This object covers the main points:",
                    )
                )
                + "\n"
                + _json_text(rng, {k: _json_value(rng, k, topic) for k in keys}, fenced=False)
                + rng.choice(("", "\nLet me know if you want more tips.", "\nHope this helps!"))
            )
    elif kind == "one_sentence":
        chosen = _one_sentence(rng, topic)
        variant = "several_sentences"
        rejected = _prose(rng, topic, rng.randint(2, 4), intro=rng.random() < 0.4)
    elif kind == "end_word":
        w = fmt["word"]
        chosen = _prose(rng, topic, k1) + " " + rng.choice(_END_SENTENCES[w])
        variant = rng.choice(("missing_word", "word_not_last"))
        if variant == "missing_word":
            rejected = _prose(rng, topic, k2)
            if rng.random() < 0.5:
                rejected += " " + rng.choice(("Good luck!", "Hope this helps.", "You've got this."))
        else:
            rejected = rng.choice(_END_SENTENCES[w]) + " " + _prose(rng, topic, k2, intro=False)
        if tokens(rejected)[-1] == w:  # a tip that happens to end with the word: make it not the last one
            rejected += " Good luck!"
    else:  # no_commas
        chosen = _prose(rng, topic, k1)
        variant = "commas"
        ts = _tips(rng, topic, rng.randint(2, 4))
        lead = rng.choice(("Honestly, ", "Well, ", "Okay, so ", ""))
        if len(ts) == 2:
            rejected = f"{lead}{ts[0]}, and {ts[1]}."
        else:
            rejected = f"{lead}first, {ts[0]}, then {', '.join(ts[1:-1])}, and finally, {ts[-1]}."
        rejected = cap(rejected)
    return chosen, rejected, variant


# ----------------------------------------------------------------------------------------------------- gold

_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+\S", re.MULTILINE)
_FENCE_RE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def _case_share(text: str, upper: bool) -> float:
    letters = [c for c in text if c.isalpha() and c.lower() != c.upper()]
    if not letters:
        return 0.0
    return sum(c.isupper() == upper for c in letters) / len(letters)


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    return [p for p in parts if re.search(r"\w", p)]


def _json_score(text: str, keys: list[str]) -> float:
    stripped = text.strip()
    m = _FENCE_RE.match(stripped)
    if m:
        stripped = m.group(1).strip()
    purity, obj = 1.0, None
    try:
        obj = json.loads(stripped)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                obj, purity = json.loads(text[start : end + 1]), 0.85
            except ValueError:
                obj = None
    if not isinstance(obj, dict):
        mentioned = sum(1 for k in keys if re.search(r"\b" + re.escape(k) + r"\b", text, re.IGNORECASE))
        return 0.1 * mentioned / len(keys)
    present = sum(1 for k in keys if k in obj) / len(keys)
    extra = any(k not in keys for k in obj)
    return purity * (0.4 + 0.6 * present) * (0.8 if extra else 1.0)


def score(meta: dict[str, Any], response: str) -> float:
    fmt = meta["format"]
    kind = fmt["kind"]
    if kind == "uppercase":
        return _case_share(response, upper=True)
    if kind == "lowercase":  # ordinary sentence case is ~96% lower-case: count the capitals instead
        n_upper = sum(1 for c in response if c.isupper())
        return min(_case_share(response, upper=False), 1.0 / (1.0 + n_upper))
    if kind == "bullets":
        n, c = fmt["n"], len(_LIST_ITEM_RE.findall(response))
        return 1.0 if c == n else 0.7 * max(0.0, 1.0 - abs(c - n) / n)
    if kind == "json":
        return _json_score(response, fmt["keys"])
    if kind == "one_sentence":
        k = len(_sentences(response))
        return 1.0 / k if k else 0.0
    if kind == "end_word":
        toks = tokens(response)
        w = fmt["word"].lower()
        if toks and toks[-1] == w:
            return 1.0
        return 0.5 if w in toks else 0.0
    if kind == "no_commas":
        if not tokens(response):
            return 0.0
        return 1.0 / (1.0 + response.count(",") + response.count("，"))
    raise ValueError(f"unknown format kind {kind!r}")


FAMILY = Family(
    NAME,
    ASPECT,
    make_prompt,
    make_responses,
    score,
    "follow a format instruction (case, bullet count, JSON keys, one sentence, end word, no commas)",
)
