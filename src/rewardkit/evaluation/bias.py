"""Length bias of a reward: is it right because it likes long answers?

Lengths are characters of the response text (model-independent, so checkpoints with different tokenizers
compare). Pairs whose two responses have the same length count in neither split.

  accuracy_chosen_longer / accuracy_chosen_shorter   strict accuracy on the pairs where the human-preferred
                                                     response is the longer / the shorter one
  length_accuracy_gap                                the difference (0 for a length-blind reward)
  data_chosen_longer_rate                            how often the preferred response is the longer one: the
                                                     accuracy of the "prefer longer" heuristic on this data
  prefers_longer_rate                                how often the reward ranks the longer response higher
  reward_length_spearman / _pearson                  correlation of reward with length over all responses
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.data.record import PreferencePair
from rewardkit.evaluation.diagnostics import pearson, spearman


def response_lengths(pairs: Sequence[PreferencePair]) -> tuple[np.ndarray, np.ndarray]:
    """Character lengths of the chosen and the rejected response of each pair."""
    return (
        np.array([len(p.chosen) for p in pairs], dtype=np.float64),
        np.array([len(p.rejected) for p in pairs], dtype=np.float64),
    )


def _rate(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def length_bias(
    chosen_rewards: Sequence[float],
    rejected_rewards: Sequence[float],
    chosen_lengths: Sequence[float],
    rejected_lengths: Sequence[float],
) -> dict[str, Any]:
    """The length-bias metrics above for one set of pairs (see the module docstring)."""
    rc, rr = np.asarray(chosen_rewards, dtype=np.float64), np.asarray(rejected_rewards, dtype=np.float64)
    lc, lr = np.asarray(chosen_lengths, dtype=np.float64), np.asarray(rejected_lengths, dtype=np.float64)
    if not (rc.shape == rr.shape == lc.shape == lr.shape) or rc.ndim != 1:
        raise ValueError(
            f"rewards and lengths must be 1-D of one length, got {rc.shape}, {rr.shape}, {lc.shape}, {lr.shape}"
        )
    margin = rc - rr
    correct = margin > 0
    longer, shorter = lc > lr, lc < lr
    acc_longer, acc_shorter = _rate(correct[longer]), _rate(correct[shorter])
    unequal = longer | shorter
    # the reward ranks the longer response higher: margin and length difference have the same sign
    prefers_longer = np.sign(margin[unequal]) == np.sign(lc[unequal] - lr[unequal])
    rewards, lengths = np.concatenate([rc, rr]), np.concatenate([lc, lr])
    return {
        "chosen_longer_pairs": int(longer.sum()),
        "chosen_shorter_pairs": int(shorter.sum()),
        "equal_length_pairs": int((~unequal).sum()),
        "accuracy_chosen_longer": acc_longer,
        "accuracy_chosen_shorter": acc_shorter,
        "length_accuracy_gap": (acc_longer - acc_shorter) if None not in (acc_longer, acc_shorter) else None,
        "data_chosen_longer_rate": _rate(longer[unequal]),
        "prefers_longer_rate": _rate(prefers_longer),
        "reward_length_spearman": spearman(rewards, lengths),
        "reward_length_pearson": pearson(rewards, lengths),
    }
