"""rewardkit.generation: seeded, cached sampling from a policy; best-of-N selection and comparison
(bon.py, with an optional LLM judge in judge.py); aspect selection (selection.py); RL with TRL (rl.py).
See docs/alarm.md."""
