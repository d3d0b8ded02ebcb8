"""Demo generators: deterministic bytes, expected counts and layouts, loadable by index_folder."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasbench.data import demo
from kerasbench.data.index import index_folder
from kerasbench.errors import ConfigError, DatasetError
from kerasbench.studies import STUDIES


def generator(study: str):
    """A study's demo generator (each study subpackage holds its own)."""
    return STUDIES[study].module.make_demo_data


def make_faces(folder, **options):
    return generator("faces")(folder, **options)


def draw_square(abnormal, size, rng):
    """A toy drawing for make_binary: a bright square for the first class."""
    image = np.full((size, size), 40, np.uint8) + rng.integers(0, 10, (size, size)).astype(np.uint8)
    if abnormal:
        image[size // 4: size // 2, size // 4: size // 2] = 220
    return image


def make_binary(folder, **options):
    return demo.make_binary(folder, draw=draw_square, style="squares",
                            finding="a bright square", **options)


def tree_bytes(folder: Path) -> dict:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


SMALL = {
    "clothing": {"per_class": (2, 1, 1)},
    "faces": {"people": 3, "images_per_person": 2},
    "fer2013": {"train_total": 30, "test_total": 10, "min_per_class": 1},
    "covid_xray": {"per_class": (2, 1, 1)},
    "down_syndrome": {"per_class": (2, 1, 1)},
}


@pytest.mark.parametrize("name", sorted(STUDIES))
def test_generators_are_deterministic(tmp_path, name):
    make = generator(name)
    a = make(tmp_path / "a", seed=3, **SMALL[name])
    b = make(tmp_path / "b", seed=3, **SMALL[name])
    c = make(tmp_path / "c", seed=4, **SMALL[name])
    files_a, files_b, files_c = tree_bytes(a), tree_bytes(b), tree_bytes(c)
    assert files_a == files_b
    assert files_a.keys() == files_c.keys()
    images = [k for k in files_a if k != demo.MARKER]
    assert any(files_a[k] != files_c[k] for k in images)


def test_clothing_layout_and_counts(tmp_path):
    root = generator("clothing")(tmp_path / "clothing")
    index = index_folder(root)
    assert index.class_names == list(STUDIES["clothing"].module.CLOTHING_CLASSES)
    counts = index.counts()
    assert (counts.loc[index.class_names, "train"] == 40).all()
    assert (counts.loc[index.class_names, "validation"] == 8).all()
    assert (counts.loc[index.class_names, "test"] == 8).all()
    with Image.open(index.frame["path"][0]) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (64, 64))


def test_faces_layout_and_counts(tmp_path):
    root = make_faces(tmp_path / "faces")
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
    index = index_folder(make_faces(tmp_path / "faces"), validation_fraction=0)
    train, test = index.split("train"), index.split("test")

    def pixels(frame):
        return np.stack([np.asarray(Image.open(p), dtype=np.float32).ravel() for p in frame.path])

    x_train, x_test = pixels(train), pixels(test)
    distances = ((x_test[:, None, :] - x_train[None, :, :]) ** 2).sum(-1)
    predicted = train["label"].to_numpy()[distances.argmin(axis=1)]
    accuracy = (predicted == test["label"].to_numpy()).mean()
    assert accuracy > 3 / len(index.class_names)


def test_fer_imbalance_and_counts(tmp_path):
    root = generator("fer2013")(tmp_path / "fer")
    index = index_folder(root)
    assert index.splits == ["train", "test"]
    assert index.class_names == ["angry", "disgust", "fear", "happy", "neutral", "sad",
                                 "surprise"]
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
    root = generator("covid_xray")(tmp_path / "covid", **kwargs)
    index = index_folder(root, validation_fraction=0, test_fraction=0)
    assert index.class_names == names and index.splits == splits


def test_binary_defaults_and_options(tmp_path):
    root = make_binary(tmp_path / "flat")
    index = index_folder(root)
    assert index.class_names == ["negative", "positive"]  # natural sort
    assert (index.counts().loc[index.class_names, "total"] == 60).all()
    with Image.open(index.frame["path"][0]) as image:
        assert (image.format, image.mode) == ("PNG", "RGB")
    grey = make_binary(tmp_path / "grey", class_names=("sick", "well"), color=False,
                       per_class=3, fmt="jpg")
    first = sorted((grey / "sick").iterdir())[0]
    with Image.open(first) as image:
        assert (image.format, image.mode) == ("JPEG", "L")
    marker = (grey / demo.MARKER).read_text()
    assert "squares" in marker and "a bright square" in marker


def test_study_binary_sets_keep_their_drawings(tmp_path):
    """X-ray style: the first class has bright patches in the lungs; the Down syndrome
    set is drawn as faces (JPEG)."""
    root = generator("covid_xray")(tmp_path / "xray", layout="flat", per_class=20, color=False)
    means = {
        cls: np.mean([np.asarray(Image.open(p), dtype=float)[20:44, 8:56].mean() for p in files])
        for cls in ("covid", "normal")
        for files in [sorted((root / cls).iterdir())]
    }
    assert means["covid"] > means["normal"] + 2
    faces = generator("down_syndrome")(tmp_path / "down", per_class=(1, 1, 1))
    assert '"face"' in (faces / demo.MARKER).read_text()
    assert sorted((faces / "train" / "healthy").iterdir())[0].suffix == ".jpg"


def test_marker_written_and_reused(tmp_path, capsys):
    root = make_faces(tmp_path / "f", people=2, images_per_person=2)
    text = (root / demo.MARKER).read_text()
    assert "SYNTHETIC DEMO DATA" in text
    assert f"generator_version: {demo.GENERATOR_VERSION}" in text and "seed: 0" in text
    assert demo.is_demo_folder(root)
    image = root / "s1" / "1.pgm"
    stamp = image.stat().st_mtime_ns
    assert make_faces(root, people=2, images_per_person=2) == root
    assert image.stat().st_mtime_ns == stamp
    # Other settings: the folder is ours (marker), so it is remade with them.
    make_faces(root, people=3, images_per_person=2)
    assert "remaking it" in capsys.readouterr().out
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["s1", "s2", "s3"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_non_empty_folder_without_marker(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not a completed demo"):
        make_faces(tmp_path / "mine", people=2, images_per_person=1)
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    assert demo.is_demo_folder(make_faces(tmp_path / "empty", people=2, images_per_person=1))


def test_demo_folder_base_env_and_options(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASBENCH_DEMO_DIR", str(tmp_path / "cache"))
    faces, covid = generator("faces"), generator("covid_xray")
    assert demo.demo_base() == tmp_path / "cache"
    folder = demo.demo_folder(faces, options={"people": 2, "images_per_person": 1})
    assert folder.parent == tmp_path / "cache" and folder.name.startswith("faces-")
    assert demo.is_demo_folder(folder)
    plain = demo.demo_folder(faces, create=False)
    assert plain == tmp_path / "cache" / "faces" and not plain.exists()
    assert demo.demo_folder(faces, tmp_path / "x", seed=2, create=False).name == "faces-seed2"
    with pytest.raises(ConfigError, match="generator"):
        demo.demo_folder("mnist")
    with pytest.raises(ConfigError, match="unknown options"):
        demo.demo_folder(faces, options={"persons": 2})
    with pytest.raises(ConfigError, match="unknown options"):
        demo.demo_folder(covid, options={"draw": None})
    folder = demo.demo_folder(covid, options={"per_class": (1, 1, 1), "image_size": 32})
    assert demo.is_demo_folder(folder) and folder.name.startswith("covid-")


def test_bad_generator_arguments(tmp_path):
    with pytest.raises(ConfigError, match="per_class"):
        generator("clothing")(tmp_path / "a", per_class=5)
    with pytest.raises(ConfigError, match="layout"):
        make_binary(tmp_path / "b", layout="nested")
    with pytest.raises(ConfigError, match="two different names"):
        make_binary(tmp_path / "c", class_names=("a", "a"))
    with pytest.raises(ConfigError, match="fmt"):
        make_faces(tmp_path / "d", fmt="gif")
