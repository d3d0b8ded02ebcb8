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


@pytest.fixture
def tiny_index(tmp_path):
    """Two colour classes of 24x24 PNGs (10/4/5 per class in train/validation/test)."""
    import numpy as np
    from PIL import Image

    from kerasbench.data.index import index_folder

    generator = np.random.default_rng(0)
    for split, count in (("train", 10), ("validation", 4), ("test", 5)):
        for label, colour in enumerate(((200, 30, 30), (30, 30, 200))):
            folder = tmp_path / "data" / split / f"class{label}"
            folder.mkdir(parents=True)
            for number in range(count):
                pixels = np.clip(np.array(colour) + generator.normal(0, 25, (24, 24, 3)), 0, 255)
                Image.fromarray(pixels.astype("uint8")).save(folder / f"{number}.png")
    return index_folder(tmp_path / "data")
