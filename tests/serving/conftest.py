"""Serving fixtures: exported tiny reward models, a scorer and a test client."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from rewardkit.evaluation.evaluate import Scorer, load_scorer
from rewardkit.serving.scorer import ModelBatchScorer

from .servers import app_client, export_tiny


@pytest.fixture(scope="session")
def tiny_rm_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported BT reward model (ChatML chat template), max_length 96."""
    return export_tiny(tiny_model_dir, tmp_path_factory.mktemp("tiny-rm") / "export")


@pytest.fixture(scope="session")
def tiny_haf_dir(tiny_plain_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported HaF model (reward head + policy; plain Human:/Assistant: template)."""
    return export_tiny(tiny_plain_model_dir, tmp_path_factory.mktemp("tiny-haf") / "export", policy=True)


@pytest.fixture(scope="session")
def scorer(tiny_rm_dir: Path) -> Scorer:
    return load_scorer(str(tiny_rm_dir))


@pytest.fixture
def client(scorer: Scorer) -> Iterator[TestClient]:
    with app_client(ModelBatchScorer(scorer)) as c:
        yield c
