"""Demo generators: deterministic bytes, expected counts and layouts, loadable by index_folder."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasbench.data import demo
from kerasbench.data.index import index_folder
from kerasbench.errors import ConfigError, DatasetError


def tree_bytes(folder: Path) -> dict:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


SMALL = {
    "clothing": {"per_class": (2, 1, 1)},
    "faces": {"people": 3, "images_per_person": 2},
    "fer": {"train_total": 30, "test_total": 10, "min_per_class": 1},
    "binary": {"per_class": 4},
    "covid": {"per_class": (2, 1, 1)},
    "down_syndrome": {"per_class": (2, 1, 1)},
}


@pytest.mark.parametrize("name", sorted(demo.DEMO_DATASETS))
def test_generators_are_deterministic(tmp_path, name):
    make = demo.DEMO_DATASETS[name]
    a = make(tmp_path / "a", seed=3, **SMALL[name])
    b = make(tmp_path / "b", seed=3, **SMALL[name])
    c = make(tmp_path / "c", seed=4, **SMALL[name])
    files_a, files_b, files_c = tree_bytes(a), tree_bytes(b), tree_bytes(c)
    assert files_a == files_b
    assert files_a.keys() == files_c.keys()
    images = [k for k in files_a if k != demo.MARKER]
    assert any(files_a[k] != files_c[k] for k in images)


def test_clothing_layout_and_counts(tmp_path):
    root = demo.make_clothing(tmp_path / "clothing")
    index = index_folder(root)
    assert index.class_names == list(demo.CLOTHING_CLASSES)
    counts = index.counts()
    assert (counts.loc[index.class_names, "train"] == 40).all()
    assert (counts.loc[index.class_names, "validation"] == 8).all()
    assert (counts.loc[index.class_names, "test"] == 8).all()
    with Image.open(index.frame["path"][0]) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (64, 64))


def test_faces_layout_and_counts(tmp_path):
    root = demo.make_faces(tmp_path / "faces")
    assert sorted(p.name for p in (root / "s1").iterdir()) == sorted(
        f"{i}.pgm" for i in range(1, 11)
    )
    index = index_folder(root, validation_fraction=0, test_fraction=0)
    assert index.class_names == [f"s{i}" for i in range(1, 13)]
    assert (index.counts().loc[index.class_names, "total"] == 10).all()
    with Image.open(index.frame["path"][0]) as image:
        assert (image.mode, image.size) == ("L", (64, 64))


def test_faces_identity_is_recoverable(tmp_path):
    """Nearest neighbour on raw pixels beats chance by far: each person has a look."""
    index = index_folder(demo.make_faces(tmp_path / "faces"), validation_fraction=0)
    train, test = index.split("train"), index.split("test")

    def pixels(frame):
        return np.stack([np.asarray(Image.open(p), dtype=np.float32).ravel() for p in frame.path])

    x_train, x_test = pixels(train), pixels(test)
    distances = ((x_test[:, None, :] - x_train[None, :, :]) ** 2).sum(-1)
    predicted = train["label"].to_numpy()[distances.argmin(axis=1)]
    accuracy = (predicted == test["label"].to_numpy()).mean()
    assert accuracy > 3 / len(index.class_names)


def test_fer_imbalance_and_counts(tmp_path):
    root = demo.make_fer(tmp_path / "fer")
    index = index_folder(root)
    assert index.splits == ["train", "test"]
    assert index.class_names == list(demo.FER_CLASSES)
    counts = index.counts()
    train = counts.loc[index.class_names, "train"]
    assert train.sum() == 350
    assert 3 <= train["disgust"] <= 8
    assert train.idxmax() == "happy" and train.idxmin() == "disgust"
    assert counts.loc[index.class_names, "test"].sum() == 90
    assert counts.loc["disgust", "test"] >= 3
    with Image.open(index.frame["path"][0]) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "L", (48, 48))


@pytest.mark.parametrize(
    "kwargs, names, splits",
    [
        ({}, ["covid", "normal"], ["train", "validation", "test"]),
        ({"layout": "flat", "per_class": 5}, ["covid", "normal"], ["train"]),
    ],
)
def test_covid_layouts(tmp_path, kwargs, names, splits):
    root = demo.make_covid(tmp_path / "covid", **kwargs)
    index = index_folder(root, validation_fraction=0, test_fraction=0)
    assert index.class_names == names and index.splits == splits


def test_binary_defaults_and_options(tmp_path):
    root = demo.make_binary(tmp_path / "flat")
    index = index_folder(root)
    assert index.class_names == ["covid", "normal"]
    assert (index.counts().loc[index.class_names, "total"] == 60).all()
    with Image.open(index.frame["path"][0]) as image:
        assert (image.format, image.mode) == ("PNG", "RGB")
    grey = demo.make_binary(
        tmp_path / "grey", class_names=("down_syndrome", "healthy"), color=False, per_class=3
    )
    first = sorted((grey / "down_syndrome").iterdir())[0]
    with Image.open(first) as image:
        assert (image.format, image.mode) == ("JPEG", "L")
    assert (
        "'face'" in (grey / demo.MARKER).read_text() or '"face"' in (grey / demo.MARKER).read_text()
    )


def test_binary_classes_differ_on_average(tmp_path):
    """X-ray style: the first class has bright patches in the lungs."""
    root = demo.make_binary(tmp_path / "xray", per_class=20, color=False)
    means = {
        cls: np.mean([np.asarray(Image.open(p), dtype=float)[20:44, 8:56].mean() for p in files])
        for cls in ("covid", "normal")
        for files in [sorted((root / cls).iterdir())]
    }
    assert means["covid"] > means["normal"] + 2


def test_marker_written_and_reused(tmp_path, capsys):
    root = demo.make_faces(tmp_path / "f", people=2, images_per_person=2)
    text = (root / demo.MARKER).read_text()
    assert "SYNTHETIC DEMO DATA" in text
    assert f"generator_version: {demo.GENERATOR_VERSION}" in text and "seed: 0" in text
    assert demo.is_demo_folder(root)
    image = root / "s1" / "1.pgm"
    stamp = image.stat().st_mtime_ns
    assert demo.make_faces(root, people=2, images_per_person=2) == root
    assert image.stat().st_mtime_ns == stamp
    # Other settings: the folder is ours (marker), so it is remade with them.
    demo.make_faces(root, people=3, images_per_person=2)
    assert "remaking it" in capsys.readouterr().out
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["s1", "s2", "s3"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_non_empty_folder_without_marker(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not a completed demo"):
        demo.make_faces(tmp_path / "mine", people=2, images_per_person=1)
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    assert demo.is_demo_folder(demo.make_faces(tmp_path / "empty", people=2, images_per_person=1))


def test_demo_folder_base_env_and_options(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASBENCH_DEMO_DIR", str(tmp_path / "cache"))
    assert demo.demo_base() == tmp_path / "cache"
    folder = demo.demo_folder("faces", options={"people": 2, "images_per_person": 1})
    assert folder.parent == tmp_path / "cache" and folder.name.startswith("faces-")
    assert demo.is_demo_folder(folder)
    plain = demo.demo_folder("faces", create=False)
    assert plain == tmp_path / "cache" / "faces" and not plain.exists()
    assert demo.demo_folder("faces", tmp_path / "x", seed=2, create=False).name == "faces-seed2"
    with pytest.raises(ConfigError, match="unknown demo data set"):
        demo.demo_folder("mnist")
    with pytest.raises(ConfigError, match="unknown options"):
        demo.demo_folder("faces", options={"persons": 2})
    covid = demo.demo_folder("covid", options={"per_class": (1, 1, 1), "image_size": 32})
    assert demo.is_demo_folder(covid)


def test_bad_generator_arguments(tmp_path):
    with pytest.raises(ConfigError, match="per_class"):
        demo.make_clothing(tmp_path / "a", per_class=5)
    with pytest.raises(ConfigError, match="layout"):
        demo.make_binary(tmp_path / "b", layout="nested")
    with pytest.raises(ConfigError, match="two different names"):
        demo.make_binary(tmp_path / "c", class_names=("a", "a"))
    with pytest.raises(ConfigError, match="fmt"):
        demo.make_faces(tmp_path / "d", fmt="gif")
