"""How fast and how loaded the machine is: a forward-speed probe of the model, and a hardware summary."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from .presets import HH

REFERENCE_FORWARD_MS = 2.2  # speed_probe of SmolLM2-135M fp32 on the idle 2-core CPU (2.12-2.44 ms, 2026-11-30)


def speed_probe(model: str, root: Path, pairs: int = 8, max_length: int = 256) -> dict[str, float]:
    """Forward ms per packed token of `model` on a few HH pairs now (shows how loaded the machine is)."""
    import torch

    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.loading import DataSpec, load_pairs
    from rewardkit.data.packing import PackedPair
    from rewardkit.evaluation.scoring import score_pairs
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.reward_model import ModelConfig

    tokenizer = load_tokenizer(model)
    data = load_pairs(DataSpec(path=str(root / HH / "helpful-base" / "test.jsonl.gz"), limit=pairs))
    encoded = PairEncoder(tokenizer, EncodingConfig(max_length=max_length)).encode_all(data)
    tokens = sum(PackedPair.from_encoded(e).length for e in encoded)
    net = build_reward_model(ModelConfig(name=model, tuning="full"), keep_lm_head=False).requires_grad_(False)
    if torch.cuda.is_available():
        net.cuda()
    start = time.perf_counter()
    score_pairs(net, encoded, None, batch_size=pairs)
    seconds = time.perf_counter() - start
    return {"tokens": tokens, "seconds": seconds, "forward_ms_per_token": 1000 * seconds / tokens}


def hardware() -> dict[str, Any]:
    import torch

    info = {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    try:
        load = os.getloadavg()
        info["load_average_at_start"] = [round(x, 2) for x in load]
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    info["label"] = info.get("gpu") or f"CPU, {info['cpu_count']} cores"
    return info
