"""Synthetic QA-Feedback records (the dev_feedback.json layout) for tests: no real data needed."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

GOOD = "{name} was founded in {year} by {person}."
OFF_TOPIC = "The weather in the city is usually mild and pleasant in spring."
WRONG = "{name} was founded in {wrong} by a group of sailors."


def qa_feedback_record(i: int, rng: random.Random) -> dict[str, Any]:
    """One record: prediction 1 is a correct sentence, then (at random) an irrelevant one and/or a wrongly
    grounded one, each annotated with its error span; predictions 2-4 vary it; random preferences."""
    name, person, year = f"Town{i}", f"Founder{i}", 1800 + i
    parts: list[tuple[str, str | None]] = [(GOOD.format(name=name, year=year, person=person), None)]
    if rng.random() < 0.5:
        parts.append((OFF_TOPIC, "Irrelevant"))
    if rng.random() < 0.5:
        parts.append((WRONG.format(name=name, wrong=year + 50), "Wrong-Grounding"))
    text, errors = "", []
    for sentence, kind in parts:
        start = len(text) + (1 if text else 0)
        text = f"{text} {sentence}" if text else sentence
        if kind:
            errors.append({"error type": kind, "explanation": "", "start": start, "end": len(text)})
    missing = [] if rng.random() < 0.5 else [{"error type": "Missing-Answer", "passage_id": 1, "sentence_id": [1]}]
    return {
        "question": f"When was {name} founded?",
        "passages": [[f"{name}", f"{name}\n\n{name} is a town.", f"It was founded in {year} by {person}."]],
        "gold": parts[0][0],
        "prediction 1": text,
        "prediction 2": parts[0][0],
        "prediction 3": f"{parts[0][0]} {OFF_TOPIC}",
        "prediction 4": WRONG.format(name=name, wrong=year + 50),
        "feedback": {"errors": errors, "missing-info": missing, "corrected-prediction": parts[0][0]},
        "preference": [rng.choice([0, 1, 2]) for _ in range(6)],
    }


def write_qa_feedback(path: str | Path, n: int, seed: int = 0) -> Path:
    """A JSON array of `n` synthetic records (distinct questions)."""
    rng = random.Random(seed)
    path = Path(path)
    path.write_text(json.dumps([qa_feedback_record(i, rng) for i in range(n)]))
    return path
