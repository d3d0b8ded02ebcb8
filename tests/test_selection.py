"""Binary class selection and the held-out validation split shared by the binary studies."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kerasbench.data.index import SPLITS, DatasetIndex, index_folder, natural_key
from kerasbench.data.selection import (
    binary_class_order,
    ensure_validation_split,
    match_class_name,
    select_binary,
)


def _index(class_counts: dict, splits=("train", "test")) -> DatasetIndex:
    """An in-memory index (no files): ``class_counts[name]`` images per split, classes in
    alphabetical order, rows in DatasetIndex order."""
    rows = []
    names = sorted(class_counts)
    for split in splits:
        for label, name in enumerate(names):
            for number in range(class_counts[name]):
                rows.append({"path": f"/data/{split}/{name}/{number}.jpg", "label": label,
                             "class_name": name, "split": split})
    return DatasetIndex(frame=pd.DataFrame(rows), class_names=names, root="/data")


def _in_index_order(frame: pd.DataFrame) -> bool:
    keys = [(SPLITS.index(split), label, natural_key(path))
            for split, label, path in zip(frame["split"], frame["label"], frame["path"])]
    return keys == sorted(keys)


# --------------------------------------------------------------------------- class names


def test_match_class_name_prefers_exact_then_ignores_case_spaces_underscores_dashes():
    assert match_class_name("covid", ["COVID", "Normal"]) == "COVID"
    assert match_class_name("down_syndrome", ["downSyndrome", "healty"]) == "downSyndrome"
    assert match_class_name("Down Syndrome", ["down-syndrome", "healty"]) == "down-syndrome"
    # An exact spelling wins even when a looser one would be ambiguous.
    assert match_class_name("covid", ["covid", "COVID"]) == "covid"


def test_match_class_name_errors_list_the_classes_or_the_ambiguity():
    with pytest.raises(ValueError, match=r"positive_class 'z' is not one of the classes \['a', 'b'\]"):
        match_class_name("z", ["a", "b"], what="positive_class")
    with pytest.raises(ValueError, match=r"class 'Covid' matches several classes \['covid', 'COVID'\]"):
        match_class_name("Covid", ["covid", "COVID"])
    # Only case, spaces, '_' and '-' are ignored, not other punctuation.
    with pytest.raises(ValueError, match="not one of the classes"):
        match_class_name("covid19", ["covid.19", "normal"])


def test_binary_class_order_puts_positive_last_and_matches_loosely():
    assert binary_class_order(["downSyndrome", "healty"], "down_syndrome") == [
        "healty", "downSyndrome"]
    assert binary_class_order(["covid", "normal"], "normal") == ["covid", "normal"]
    assert binary_class_order(["angry", "happy", "sad"], "sad", classes=["Happy", "sad"]) == [
        "happy", "sad"]
    # The positive class may be named first in classes; it still ends up label 1.
    assert binary_class_order(["a", "b", "c"], "a", classes=["a", "c"]) == ["c", "a"]


@pytest.mark.parametrize("class_names, positive, classes, message", [
    (["angry", "happy", "sad"], "sad", None, r"3 classes .*name the two.*classes="),
    (["a", "b", "c"], "a", "ab", "exactly two"),
    (["a", "b", "c"], "a", ["a", "b", "c"], "exactly two"),
    (["a", "b", "c"], "a", ["a", "A"], "two different classes"),
    (["a", "b", "c"], "z", ["a", "b"], "positive_class 'z'"),
    (["a", "b", "c"], "c", ["a", "b"], r"positive_class 'c' is not one of the classes \['a', 'b'\]"),
    (["a", "b"], "down_syndrome", None, "positive_class 'down_syndrome'"),
    (["a", "b", "c"], "a", ["a", "x"], "class 'x' is not one of the classes"),
])
def test_binary_class_order_errors_are_helpful(class_names, positive, classes, message):
    with pytest.raises(ValueError, match=message):
        binary_class_order(class_names, positive, classes)


@pytest.mark.parametrize("positive", ["covid", "Normal"])
def test_select_binary_makes_the_positive_class_label_one(positive):
    index = select_binary(_index({"covid": 3, "normal": 2}), positive)
    expected = "covid" if positive == "covid" else "normal"
    assert index.class_names[1] == expected
    frame = index.frame
    assert (frame.loc[frame["class_name"] == expected, "label"] == 1).all()
    assert (frame.loc[frame["class_name"] != expected, "label"] == 0).all()
    assert len(frame) == 10 and _in_index_order(frame)


def test_select_binary_picks_two_of_more_classes_from_a_folder(tmp_path):
    generator = np.random.default_rng(0)
    for split, count in (("train", 2), ("test", 1)):
        for name in ("a", "b", "c"):
            target = tmp_path / split / name
            target.mkdir(parents=True)
            for number in range(count):
                # Distinct pixels, so the index does not warn about duplicate files.
                pixels = generator.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(target / f"{number}.png")
    selected = select_binary(index_folder(tmp_path), "A", ["a", "c"])
    assert selected.class_names == ["c", "a"]
    assert len(selected.split("train")) == 4 and len(selected.split("test")) == 2
    with pytest.raises(ValueError, match="name the two"):
        select_binary(index_folder(tmp_path), "a")


# --------------------------------------------------------------------------- validation split


def test_ensure_validation_split_fraction_is_stratified_and_seeded(capsys):
    index = _index({"happy": 20, "sad": 10})
    first = ensure_validation_split(index, seed=3, fraction=0.2)
    assert "moved 4 happy, 2 sad training images" in capsys.readouterr().out
    again = ensure_validation_split(index, seed=3, fraction=0.2)
    assert first.frame.equals(again.frame)
    counts = first.counts()
    assert counts.loc["happy", "validation"] == 4 and counts.loc["sad", "validation"] == 2
    assert counts.loc["happy", "train"] == 16 and counts.loc["sad", "train"] == 8
    assert first.split("test").equals(index.split("test"))  # test untouched
    assert set(first.frame["path"]) == set(index.frame["path"])  # moved, not copied
    assert _in_index_order(first.frame)
    other = ensure_validation_split(index, seed=4, fraction=0.2)
    assert set(other.split("validation")["path"]) != set(first.split("validation")["path"])


def test_ensure_validation_split_per_class_and_order():
    # Paths 0..11 sort naturally (2 before 10), which a plain string sort would not keep.
    index = _index({"a": 12, "b": 12})
    moved = ensure_validation_split(index, seed=0, per_class=3)
    counts = moved.counts()
    assert counts.loc["a", "validation"] == 3 and counts.loc["b", "validation"] == 3
    assert counts.loc["a", "train"] == 9
    assert moved.splits == ["train", "validation", "test"]
    assert _in_index_order(moved.frame)
    assert list(moved.frame.index) == list(range(len(moved.frame)))


def test_ensure_validation_split_draws_each_class_independently():
    # Adding images of one class does not change which images of another are held out.
    small = ensure_validation_split(_index({"a": 10, "b": 5}), seed=1, per_class=2)
    large = ensure_validation_split(_index({"a": 10, "b": 30}), seed=1, per_class=2)
    held = [
        set(result.split("validation").query("class_name == 'a'")["path"])
        for result in (small, large)
    ]
    assert held[0] == held[1]


def test_ensure_validation_split_gives_each_class_at_least_one_image():
    counts = ensure_validation_split(_index({"a": 4, "b": 4}), seed=0, fraction=0.01).counts()
    assert counts.loc["a", "validation"] == 1 and counts.loc["b", "validation"] == 1


def test_ensure_validation_split_keeps_an_existing_validation_split():
    index = _index({"a": 5, "b": 5}, splits=("train", "validation", "test"))
    assert ensure_validation_split(index, seed=0, fraction=0.5) is index
    assert ensure_validation_split(index, seed=0, per_class=100) is index


@pytest.mark.parametrize("settings, message", [
    ({}, "exactly one of fraction"),
    ({"fraction": 0.2, "per_class": 2}, "exactly one of fraction"),
    ({"fraction": 1.0}, r"must be in \(0, 1\)"),
    ({"fraction": 0}, r"must be in \(0, 1\)"),
    ({"per_class": 0}, "positive int"),
    ({"per_class": True}, "positive int"),
    ({"per_class": 5}, r"class 'b' has 5 training images: too few to move 5"),
    ({"fraction": 0.99}, r"class 'a' has 8 training images: too few to move 8"),
])
def test_ensure_validation_split_errors_are_helpful(settings, message):
    with pytest.raises(ValueError, match=message):
        ensure_validation_split(_index({"a": 8, "b": 5}), seed=0, **settings)
