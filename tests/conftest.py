"""Shared fixtures: a seeded autouse fixture and the location of the shared real data."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KERASBENCH_DATA", REPO_ROOT.parent / "shared" / "data"))
SHARED_WEIGHTS = Path(os.environ.get("KERASBENCH_WEIGHTS", REPO_ROOT.parent / "shared" / "weights"))


@pytest.fixture(autouse=True)
def seeded():
    from kerasbench.seeding import set_seed

    set_seed(1234)
    yield


def shared_path(*parts: str) -> Path:
    """A path under the shared data folder, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set KERASBENCH_DATA)")
    return path


def shared_weights(name: str) -> Path:
    path = SHARED_WEIGHTS / name
    if not path.exists():
        pytest.skip(f"shared weights not found at {path} (set KERASBENCH_WEIGHTS)")
    return path
