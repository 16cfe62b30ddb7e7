"""QA-Feedback (Wu et al. 2023, FineGrainedRLHF `dev_feedback.json`): 4 predictions, 6 pairwise labels.

`{"question", "passages": [[title, sentence, sentence, …], …], "gold", "prediction 1".."prediction 4",
"feedback", "preference": [l12, l13, l14, l23, l24, l34]}` where each label is 1 (first better), 2 (second better)
or 0 (no preference). `preference` may also be given as a 6-character string such as "120012".

Each record yields up to 6 pairs; label-0 pairs are dropped and counted ("no preference (label 0)").
The prompt is one user turn: the question, then the passages numbered "[1] Title" with their sentences joined
(the first sentence of a Wikipedia lead repeats the title followed by a blank line; that repeat is removed).
subset = "qa-feedback"; meta keeps the pair ("1v2") and the raw label.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rewardkit.data.readers.base import Item, RecordContext, Skip, int_label, require, require_str, user_prompt
from rewardkit.data.record import PreferencePair

PAIRS = ((1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4))


def format_passages(passages: Any, ctx: RecordContext) -> str:
    """'[1] Title\\nSentence. Sentence.\\n\\n[2] …' from a list of [title, sentence, …] lists."""
    if not isinstance(passages, list):
        raise ctx.error(f"expected a list of [title, sentence, ...] lists, got {type(passages).__name__}", "passages")
    blocks = []
    for n, passage in enumerate(passages, 1):
        if not isinstance(passage, list) or not passage or not all(isinstance(s, str) for s in passage):
            raise ctx.error(f"passage {n - 1} must be a non-empty list of strings", "passages")
        title, sentences = passage[0].strip(), list(passage[1:])
        if sentences and sentences[0].startswith(passage[0] + "\n\n"):
            sentences[0] = sentences[0][len(passage[0]) + 2 :]
        blocks.append(f"[{n}] {title}\n" + " ".join(s.strip() for s in sentences))
    return "\n\n".join(blocks)


def _labels(value: Any, ctx: RecordContext) -> list[int]:
    items = list(value.replace(",", "").replace(" ", "")) if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) != len(PAIRS):
        raise ctx.error(f"expected {len(PAIRS)} labels (1v2, 1v3, 1v4, 2v3, 2v4, 3v4), got {value!r}", "preference")
    return [int_label(v, (0, 1, 2), "preference", ctx) for v in items]


def read_qa_feedback(record: dict[str, Any], ctx: RecordContext) -> Iterator[Item]:
    """One QA-Feedback record -> up to 6 PreferencePairs."""
    question = require_str(record, "question", ctx).strip()
    labels = _labels(require(record, "preference", ctx), ctx)
    predictions = {k: require_str(record, f"prediction {k}", ctx) for k in range(1, 5)}
    passages = format_passages(record.get("passages") or [], ctx)
    text = f"Question: {question}\n\nPassages:\n\n{passages}" if passages else f"Question: {question}"
    for (a, b), label in zip(PAIRS, labels):
        if label == 0:
            yield Skip("no preference (label 0)", expected=True)
            continue
        win, lose = (a, b) if label == 1 else (b, a)
        yield PreferencePair(
            prompt=user_prompt(text),
            chosen=predictions[win],
            rejected=predictions[lose],
            subset="qa-feedback",
            source=ctx.source,
            meta={"pair": f"{a}v{b}", "label": label, "chosen_prediction": win},
        )
