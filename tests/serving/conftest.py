"""Serving fixtures: a scorer on the tiny exported reward model and a test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rewardkit.evaluation.evaluate import Scorer, load_scorer
from rewardkit.serving.scorer import ModelBatchScorer

from .servers import app_client


@pytest.fixture(scope="session")
def scorer(tiny_rm_dir: Path) -> Scorer:
    return load_scorer(str(tiny_rm_dir))


@pytest.fixture
def client(scorer: Scorer) -> Iterator[TestClient]:
    with app_client(ModelBatchScorer(scorer)) as c:
        yield c
