"""index_folder on tiny image trees made here (layouts, natural sort, bad inputs,
cross-split duplicates) and on the shared real data; the module split of the index.

Flat-layout splits, split files and DatasetIndex methods: test_index_splitting.py."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path
from index_trees import make_tree, split_tree, write_image

from kerasbench.data.index import (
    CrossSplitDuplicateWarning,
    index_folder,
    natural_key,
    natural_sorted,
)
from kerasbench.errors import ConfigError, DatasetError

# ----------------------------------------------------------------------------- natural sort


def test_natural_sort_orders_numbers_by_value():
    names = ["class10", "class2", "Class1", "img10.png", "img9.png", "a01", "a1", "b"]
    assert natural_sorted(names) == [
        "a01",
        "a1",
        "b",
        "Class1",
        "class2",
        "class10",
        "img9.png",
        "img10.png",
    ]
    assert natural_key("s2") < natural_key("s10")
    assert natural_sorted(["10.pgm", "2.pgm", "1.pgm"]) == ["1.pgm", "2.pgm", "10.pgm"]


# ----------------------------------------------------------------------------- split layout


def test_split_layout_frame_order_and_counts(tmp_path):
    root = make_tree(
        tmp_path / "data",
        {
            "train/class10": ["img10.png", "img2.png", "img1.png"],
            "train/class2": 2,
            "validation/class10": 1,
            "validation/class2": 1,
            "test/class10": 1,
            "test/class2": 2,
        },
    )
    index = index_folder(root)
    assert index.class_names == ["class2", "class10"]
    assert index.splits == ["train", "validation", "test"]
    assert list(index.frame.columns) == ["path", "label", "class_name", "split"]
    assert index.root == root.resolve()
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in index.frame["path"])

    train = index.split("train")
    assert list(train.index) == list(range(5))
    assert list(train["class_name"]) == ["class2", "class2", "class10", "class10", "class10"]
    assert [Path(p).name for p in train["path"]][2:] == ["img1.png", "img2.png", "img10.png"]
    assert list(train["label"]) == [0, 0, 1, 1, 1]
    assert train["label"].dtype == np.int64

    counts = index.counts()
    assert counts.loc["class10", "train"] == 3
    assert counts.loc["class2", "test"] == 2
    assert counts.loc["total", "total"] == 10
    assert list(counts.columns) == ["train", "validation", "test", "total"]
    assert list(counts.index) == ["class2", "class10", "total"]
    assert "classes=2" in repr(index)


def test_unknown_split_lists_present_splits(tmp_path):
    index = index_folder(split_tree(tmp_path / "d", counts=(2, 0, 1)))
    assert index.splits == ["train", "test"]
    with pytest.raises(DatasetError, match="present splits: train, test"):
        index.split("validation")


@pytest.mark.parametrize("alias", ["val", "Val", "valid"])
def test_val_folder_is_called_validation(tmp_path, alias):
    index = index_folder(split_tree(tmp_path / "d", val_name=alias))
    assert index.splits == ["train", "validation", "test"]
    assert len(index.split("validation")) == 4
    assert len(index.split("val")) == 4


def test_both_val_and_validation_is_an_error(tmp_path):
    root = split_tree(tmp_path / "d")
    make_tree(root, {"val/cat": 1, "val/dog": 1})
    with pytest.raises(DatasetError, match="keep one of them"):
        index_folder(root)


def test_split_folders_without_train(tmp_path):
    root = make_tree(tmp_path / "d", {"test/cat": 1, "validation/cat": 1})
    with pytest.raises(DatasetError, match="no train/ folder"):
        index_folder(root)


def test_split_folders_mixed_with_other_folders(tmp_path):
    root = split_tree(tmp_path / "d")
    make_tree(root, {"extra/cat": 1})
    with pytest.raises(DatasetError, match="extra"):
        index_folder(root)


# ----------------------------------------------------------------------------- bad inputs


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        index_folder(tmp_path / "nowhere")


def test_root_is_a_file(tmp_path):
    path = write_image(tmp_path / "x.png")
    with pytest.raises(DatasetError, match="is a file"):
        index_folder(path)


def test_no_images(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images found.*empty"):
        index_folder(tmp_path / "empty")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "readme.txt").write_text("hello")
    with pytest.raises(DatasetError, match="no images found"):
        index_folder(notes)


def test_loose_images_without_class_folders(tmp_path):
    root = make_tree(tmp_path / "d", {".": 3})
    with pytest.raises(DatasetError, match="3 images lie directly in it"):
        index_folder(root)


def test_wrapped_dataset_folder_is_not_taken_for_a_class(tmp_path):
    split_tree(tmp_path / "slug" / "dataset")
    with pytest.raises(DatasetError, match=r"pass .*slug[/\\]dataset instead"):
        index_folder(tmp_path / "slug")


def test_empty_class_folder(tmp_path):
    root = make_tree(tmp_path / "d", {"cat": 3})
    (root / "dog").mkdir()
    (root / "dog" / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetError, match=r"no images.*dog"):
        index_folder(root)


def test_empty_class_folder_in_a_split(tmp_path):
    root = split_tree(tmp_path / "d")
    for f in (root / "test" / "dog").iterdir():
        f.unlink()
    with pytest.raises(DatasetError, match=r"test[/\\]dog"):
        index_folder(root)


def test_classes_differ_between_splits(tmp_path):
    root = split_tree(tmp_path / "d", classes=("cat", "dog", "owl"))
    for f in (root / "validation" / "owl").iterdir():
        f.unlink()
    (root / "validation" / "owl").rmdir()
    make_tree(root, {"test/fox": 1})
    with pytest.raises(DatasetError) as info:
        index_folder(root)
    message = str(info.value)
    assert "validation/ lacks ['owl']" in message
    assert "test/ has classes not in train/: ['fox']" in message


def test_corrupt_files_listed_then_skipped(tmp_path, capsys):
    root = split_tree(tmp_path / "d", counts=(3, 1, 1))
    bad_png = root / "train" / "cat" / "broken.png"
    bad_png.write_bytes(b"this is not a png")
    good_jpg = write_image(root / "train" / "dog" / "whole.jpg")
    truncated = root / "train" / "dog" / "truncated.jpg"
    truncated.write_bytes(good_jpg.read_bytes()[:-40])
    with pytest.raises(DatasetError) as info:
        index_folder(root)
    message = str(info.value)
    assert "2 files" in message and str(bad_png) in message and str(truncated) in message
    assert "on_corrupt='skip'" in message

    index = index_folder(root, on_corrupt="skip")
    out = capsys.readouterr().out
    assert "skipping 2 unreadable images" in out and "broken.png" in out
    assert str(bad_png) not in set(index.frame["path"])
    assert str(good_jpg) in set(index.frame["path"])
    assert len(index.split("train")) == 7

    # With the check off, nothing is opened and the bad files stay in the index.
    unchecked = index_folder(root, check_images=False, on_cross_split_duplicate="ignore")
    assert len(unchecked.split("train")) == 9


def test_hidden_entries_and_non_images_are_skipped_and_counted(tmp_path, capsys):
    root = split_tree(tmp_path / "d", counts=(2, 1, 1))
    make_tree(root, {"train/cat/.ipynb_checkpoints": 2, ".cache/cat": 1})
    (root / ".DS_Store").write_bytes(b"\0")
    (root / "train" / "dog" / "._img1.png").write_bytes(b"resource fork")
    (root / "train" / "dog" / "labels.csv").write_text("a,b")
    (root / "LICENSE.txt").write_text("CC0")
    write_image(root / "train" / "loose.png")
    index = index_folder(root)
    assert len(index) == 8
    assert not any("/." in p for p in index.frame["path"])
    out = capsys.readouterr().out
    line = [ln for ln in out.splitlines() if "skipped" in ln]
    assert len(line) == 1
    assert "4 hidden entries" in line[0]
    assert "2 non-image files" in line[0]
    assert "1 images outside class folders" in line[0]


def test_skipped_files_in_a_flat_root_are_counted_once(tmp_path, capsys):
    root = make_tree(tmp_path / "d", {"a": 3, "b": 3})
    (root / "README.txt").write_text("about")
    index_folder(root, validation_fraction=0, test_fraction=0)
    assert "skipped 1 non-image files" in capsys.readouterr().out


def test_extensions_option(tmp_path):
    root = make_tree(tmp_path / "d", {"a": 3, "b": 3})
    write_image(root / "a" / "extra.bmp", fmt="BMP")
    assert len(index_folder(root, extensions=("png",), test_fraction=0, validation_fraction=0)) == 6
    assert len(index_folder(root, test_fraction=0, validation_fraction=0)) == 7


def test_bad_arguments(tmp_path):
    root = make_tree(tmp_path / "d", {"a": 3, "b": 3})
    with pytest.raises(ConfigError, match="on_corrupt"):
        index_folder(root, on_corrupt="drop")
    with pytest.raises(ConfigError, match="on_cross_split_duplicate"):
        index_folder(root, on_cross_split_duplicate="maybe")
    with pytest.raises(ConfigError, match="must be < 1"):
        index_folder(root, validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ConfigError, match="check_images"):
        index_folder(root, check_images="thorough")


# ----------------------------------------------------------------------------- duplicates


def _tree_with_cross_split_copy(root: Path) -> tuple:
    split_tree(root, counts=(3, 1, 1))
    source = root / "train" / "cat" / "img1.png"
    copy = root / "test" / "cat" / "copy.png"
    copy.write_bytes(source.read_bytes())
    return source, copy


def test_cross_split_duplicate_warns_by_default(tmp_path):
    source, copy = _tree_with_cross_split_copy(tmp_path / "d")
    with pytest.warns(CrossSplitDuplicateWarning) as record:
        index = index_folder(tmp_path / "d")
    message = str(record[0].message)
    assert str(source) in message and str(copy) in message and "1 images" in message
    assert str(copy) in set(index.frame["path"])


def test_cross_split_duplicate_error_and_ignore(tmp_path):
    _, copy = _tree_with_cross_split_copy(tmp_path / "d")
    with pytest.raises(DatasetError, match="copy.png"):
        index_folder(tmp_path / "d", on_cross_split_duplicate="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index = index_folder(tmp_path / "d", on_cross_split_duplicate="ignore")
    assert str(copy) in set(index.frame["path"])


def test_duplicates_within_one_split_are_not_reported(tmp_path):
    root = split_tree(tmp_path / "d", counts=(3, 1, 1))
    (root / "train" / "dog" / "copy.png").write_bytes((root / "train/cat/img1.png").read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index_folder(root, on_cross_split_duplicate="error")


# ----------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_real_clothing_small():
    index = index_folder(shared_path("clothing-small"))
    assert index.class_names == [
        "dress",
        "hat",
        "longsleeve",
        "outwear",
        "pants",
        "shirt",
        "shoes",
        "shorts",
        "skirt",
        "t-shirt",
    ]
    assert [len(index.split(s)) for s in ("train", "validation", "test")] == [3068, 341, 372]


@pytest.mark.slow
def test_real_orl_faces_flat_split(tmp_path):
    split_file = tmp_path / "orl.csv"
    index = index_folder(shared_path("orl-faces"), split_file=split_file, seed=0)
    assert len(index.class_names) == 40
    assert index.class_names[:3] == ["s1", "s2", "s3"] and index.class_names[-1] == "s40"
    assert (index.counts().loc[index.class_names, "total"] == 10).all()
    assert [len(index.split(s)) for s in ("train", "validation", "test")] == [320, 40, 40]
    assert (index.counts().loc[index.class_names, "test"] == 1).all()
    again = index_folder(shared_path("orl-faces"), split_file=split_file)
    pd.testing.assert_frame_equal(index.frame, again.frame)


@pytest.mark.slow
def test_real_fer2013_subset():
    # FER2013 has known byte-identical images across its splits: the check must see them.
    with pytest.warns(CrossSplitDuplicateWarning):
        index = index_folder(shared_path("fer2013-subset"))
    assert index.splits == ["train", "test"]
    assert len(index.split("train")) == 5744 and len(index.split("test")) == 1439
    counts = index.counts()
    assert counts.loc["disgust", "train"] < counts.loc["happy", "train"] / 10


# ----------------------------------------------------------------------------- modules


def test_index_modules_are_small_and_index_re_exports_every_public_name():
    import kerasbench.data.index as index_module
    from kerasbench.data import checks, fingerprint, scan, splitting

    for module in (index_module, checks, fingerprint, scan, splitting):
        assert len(Path(module.__file__).read_text().splitlines()) <= 450, module.__name__
    for module in (checks, scan, splitting):  # the parts split out of the former index.py
        for name in module.__all__:
            assert getattr(index_module, name) is getattr(module, name), name
    assert index_module.frame_fingerprint is fingerprint.frame_fingerprint
    for name in ("FRAME_COLUMNS", "IMAGE_EXTENSIONS", "SPLITS", "SPLIT_ALIASES",
                 "CrossSplitDuplicateWarning", "DatasetIndex", "index_folder", "natural_key",
                 "natural_sorted", "frame_fingerprint"):
        assert name in index_module.__all__, name
