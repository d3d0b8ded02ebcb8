"""Data folders a new user points at: missing, empty, one level off, linked, lopsided."""

import os
import warnings

import pytest
import robustness_helpers

from kerasbench.data.index import CrossSplitDuplicateWarning, index_folder
from kerasbench.errors import DatasetError


@pytest.fixture
def helpers():
    return robustness_helpers


# --------------------------------------------------------------------------- the folder itself


def test_missing_dataset_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        index_folder(tmp_path / "nowhere")


def test_empty_dataset_says_it_is_empty(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DatasetError, match=r"no images found in .*data.*The folder is empty"):
        index_folder(tmp_path / "data")


def test_a_file_instead_of_a_folder(tmp_path):
    (tmp_path / "data.zip").write_bytes(b"PK")
    with pytest.raises(DatasetError, match=r"data\.zip is a file"):
        index_folder(tmp_path / "data.zip")


def test_images_loose_in_the_folder_are_explained(tmp_path, helpers):
    helpers.tree(tmp_path, {"data": 3})
    with pytest.raises(DatasetError, match="3 images lie directly in it"):
        index_folder(tmp_path / "data")


def test_wrapped_dataset_names_the_inner_folder(tmp_path, helpers):
    helpers.split_tree(tmp_path / "data" / "chest_xray")
    with pytest.raises(DatasetError, match=r"pass .*chest_xray instead"):
        index_folder(tmp_path / "data")


# --------------------------------------------------------------------------- classes


def test_empty_class_folder_is_named(tmp_path, helpers):
    helpers.tree(tmp_path, {"cat": 3, "dog": 3})
    (tmp_path / "bird").mkdir()
    with pytest.raises(DatasetError, match=r"class folders with no images \(.*bird\)"):
        index_folder(tmp_path, validation_fraction=0, test_fraction=0)


@pytest.mark.parametrize("layout", ["flat", "split"])
def test_a_single_class_is_an_error_naming_the_folder(tmp_path, helpers, layout):
    if layout == "flat":
        helpers.tree(tmp_path, {"cat": 6})
        folder = tmp_path
    else:
        helpers.tree(tmp_path, {"train/cat": 6, "test/cat": 2})
        folder = tmp_path / "train"
    with pytest.raises(DatasetError, match=rf"{folder} holds 1 class folder\(s\) \(cat\).*"
                                           r"min_classes=2"):
        index_folder(tmp_path, validation_fraction=0, test_fraction=0)


def test_a_single_wrapper_folder_hints_at_the_real_classes(tmp_path, helpers):
    # data/images/<class>/...: taken as one class "images" holding everything.
    helpers.tree(tmp_path, {"data/images/cat": 3, "data/images/dog": 3})
    with pytest.raises(DatasetError, match=r"images holds folders \(cat, dog\).*pass .*images"):
        index_folder(tmp_path / "data", validation_fraction=0, test_fraction=0)


def test_min_classes_one_accepts_a_single_class(tmp_path, helpers):
    helpers.tree(tmp_path, {"cat": 4})
    index = index_folder(tmp_path, validation_fraction=0, test_fraction=0, min_classes=1)
    assert index.class_names == ["cat"] and len(index) == 4


@pytest.mark.parametrize("where, message", [
    ({"validation/cat": 2}, r"validation/ lacks \['dog'\]"),
    ({"validation/cat": 2, "validation/dog": 2, "validation/bird": 2},
     r"validation/ has classes not in train/: \['bird'\]"),
])
def test_class_mismatch_between_splits_names_the_split_and_classes(tmp_path, helpers, where,
                                                                    message):
    helpers.tree(tmp_path, {"train/cat": 3, "train/dog": 3, "test/cat": 2, "test/dog": 2, **where})
    with pytest.raises(DatasetError, match=message):
        index_folder(tmp_path)


def test_hidden_entries_and_non_images_are_skipped_and_counted(tmp_path, helpers, capsys):
    helpers.tree(tmp_path, {"cat": 4, "dog": 4, "cat/.ipynb_checkpoints": 2, "__MACOSX/cat": 2})
    (tmp_path / "dog" / "._img0.png").write_bytes(b"\0\5\26\7 mac resource fork")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    index = index_folder(tmp_path, validation_fraction=0, test_fraction=0)
    assert len(index) == 8 and index.class_names == ["cat", "dog"]
    out = capsys.readouterr().out
    assert "hidden entries" in out and "1 non-image files" in out and str(tmp_path) in out


def test_unicode_paths_are_indexed(tmp_path, helpers):
    helpers.tree(tmp_path / "données", {"café": 3, "日本": 3})
    (tmp_path / "données" / "café" / "img0.png").rename(tmp_path / "données" / "café" / "ça été.png")
    index = index_folder(tmp_path / "données", validation_fraction=0, test_fraction=0)
    assert index.class_names == ["café", "日本"]
    assert any(path.endswith("ça été.png") for path in index.frame["path"])


# --------------------------------------------------------------------------- symlinks


def test_a_symlinked_sub_folder_in_a_class_is_followed(tmp_path, helpers):
    helpers.tree(tmp_path / "data", {"cat": 2, "dog": 2})
    helpers.tree(tmp_path / "elsewhere", {"more_cats": 3})
    os.symlink(tmp_path / "elsewhere" / "more_cats", tmp_path / "data" / "cat" / "linked")
    index = index_folder(tmp_path / "data", validation_fraction=0, test_fraction=0)
    cats = index.frame[index.frame["class_name"] == "cat"]["path"].tolist()
    assert len(cats) == 5
    assert sum("/cat/linked/" in path for path in cats) == 3


def test_a_symlinked_class_folder_is_followed(tmp_path, helpers):
    helpers.tree(tmp_path / "data", {"cat": 2})
    helpers.tree(tmp_path / "elsewhere", {"dogs": 3})
    os.symlink(tmp_path / "elsewhere" / "dogs", tmp_path / "data" / "dog")
    index = index_folder(tmp_path / "data", validation_fraction=0, test_fraction=0)
    assert index.counts()["total"].tolist() == [2, 3, 5]


@pytest.mark.parametrize("target", ["class", "root"])
def test_a_symlink_loop_is_not_followed_and_is_named(tmp_path, helpers, capsys, target):
    helpers.tree(tmp_path / "data", {"cat": 2, "dog": 2, "cat/inner": 1})
    link = tmp_path / "data" / "cat" / "inner" / "loop"
    os.symlink(tmp_path / "data" / ("cat" if target == "class" else ""), link)
    index = index_folder(tmp_path / "data", validation_fraction=0, test_fraction=0)
    assert index.counts()["total"].tolist() == [3, 2, 5]  # nothing counted twice
    out = capsys.readouterr().out
    assert "symlinked folders that lead to a folder already indexed" in out
    assert str(link) in out


def test_two_links_to_one_folder_count_its_images_once(tmp_path, helpers, capsys):
    helpers.tree(tmp_path / "data", {"cat": 1, "dog": 2})
    helpers.tree(tmp_path / "shared", {"cats": 2})
    for name in ("a", "b"):
        os.symlink(tmp_path / "shared" / "cats", tmp_path / "data" / "cat" / name)
    index = index_folder(tmp_path / "data", validation_fraction=0, test_fraction=0)
    assert index.counts().loc["cat", "total"] == 3
    assert "cat/b ->" in capsys.readouterr().out


# --------------------------------------------------------------------------- splits


def test_a_class_too_small_for_the_test_split_is_named_with_its_count(tmp_path, helpers):
    helpers.tree(tmp_path, {"cat": 40, "dog": 40, "rare": 2})
    with pytest.raises(DatasetError, match=r"test_fraction=0\.1 gives no test image to "
                                           r"'rare' \(2 images\)"):
        index_folder(tmp_path, validation_fraction=0.1, test_fraction=0.1)


@pytest.mark.parametrize("parameter", ["validation_fraction", "test_fraction"])
def test_a_fraction_that_rounds_to_no_image_names_the_parameter(tmp_path, helpers, parameter):
    helpers.tree(tmp_path, {"cat": 4, "dog": 4})
    fractions = {"validation_fraction": 0.0, "test_fraction": 0.0, parameter: 0.05}
    with pytest.raises(DatasetError, match=rf"{parameter}=0\.05 of the 8 images .* is 0 images"):
        index_folder(tmp_path, **fractions)


def test_a_split_sklearn_refuses_names_the_smallest_class(tmp_path, helpers):
    helpers.tree(tmp_path, {"cat": 10, "dog": 1})
    with pytest.raises(DatasetError, match=r"'dog' 1 images"):
        index_folder(tmp_path, validation_fraction=0.2, test_fraction=0.2)


@pytest.mark.parametrize("names", [("train",), ("train", "val"), ("train", "validation")])
def test_split_folders_without_test_get_one_carved_from_train(tmp_path, helpers, capsys, names):
    counts = (10, 3)[: len(names)]
    helpers.split_tree(tmp_path, counts=counts, names=names)
    index = index_folder(tmp_path, test_fraction=0.2, seed=3)
    assert "test" in index.splits
    counts_table = index.counts()
    assert counts_table.loc["cat", "test"] == 2 and counts_table.loc["dog", "test"] == 2
    assert counts_table.loc["cat", "train"] == 8
    if len(names) == 2:
        assert counts_table.loc["cat", "validation"] == 3  # the validation folder is kept
    out = capsys.readouterr().out
    assert "has no test/ folder" in out and "test_fraction=0.2" in out
    # The same seed makes the same split.
    again = index_folder(tmp_path, test_fraction=0.2, seed=3)
    assert again.frame.equals(index.frame)


def test_no_test_folder_with_test_fraction_zero_says_so(tmp_path, helpers, capsys):
    helpers.split_tree(tmp_path, counts=(4, 2), names=("train", "val"))
    index = index_folder(tmp_path, test_fraction=0)
    assert index.splits == ["train", "validation"]
    out = capsys.readouterr().out
    assert "no test split" in out and "test_fraction > 0" in out


def test_carving_a_test_split_from_a_tiny_class_is_an_error(tmp_path, helpers):
    helpers.tree(tmp_path, {"train/cat": 30, "train/dog": 1, "val/cat": 2, "val/dog": 1})
    with pytest.raises(DatasetError, match=r"train \(no test/ folder\).*'dog' 1 images"):
        index_folder(tmp_path, test_fraction=0.1)


def test_a_carved_test_split_is_kept_in_the_split_file(tmp_path, helpers):
    helpers.split_tree(tmp_path / "data", counts=(10,), names=("train",))
    split_file = tmp_path / "split.csv"
    first = index_folder(tmp_path / "data", test_fraction=0.2, split_file=split_file)
    assert split_file.is_file()
    again = index_folder(tmp_path / "data", test_fraction=0.2, split_file=split_file, seed=99)
    assert again.frame.equals(first.frame)


def test_a_corrupt_split_file_is_named(tmp_path, helpers):
    helpers.tree(tmp_path / "data", {"cat": 10, "dog": 10})
    split_file = tmp_path / "split.csv"
    split_file.write_bytes(b"\xff\xfe\x00garbage\x00\n\x01")
    with pytest.raises(DatasetError, match=rf"split file {split_file}"):
        index_folder(tmp_path / "data", split_file=split_file)


def test_a_failed_split_file_write_keeps_the_old_file(tmp_path, helpers, monkeypatch):
    import pandas as pd

    from kerasbench.data.index import DatasetIndex

    index = index_folder(helpers.tree(tmp_path / "data", {"cat": 4, "dog": 4}),
                         validation_fraction=0, test_fraction=0.25)
    path = index.to_csv(tmp_path / "index.csv")
    before = path.read_bytes()

    def half_then_fail(self, target, *args, **kwargs):
        text = "path,class_name,split\ncat/img0.png,cat,tr"
        if hasattr(target, "write"):
            target.write(text)
        else:
            with open(target, "w") as stream:
                stream.write(text)
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        index.to_csv(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert isinstance(DatasetIndex.from_csv(path, tmp_path / "data"), DatasetIndex)


def test_the_same_image_in_two_splits_is_named(tmp_path, helpers):
    import shutil

    helpers.split_tree(tmp_path, counts=(3, 2, 2))
    shutil.copyfile(tmp_path / "train/cat/img0.png", tmp_path / "test/cat/copy.png")
    with pytest.warns(CrossSplitDuplicateWarning, match=r"train:.*img0\.png == test:.*copy\.png"):
        index_folder(tmp_path)
    with warnings.catch_warnings(), pytest.raises(DatasetError, match="copy.png"):
        warnings.simplefilter("ignore")
        index_folder(tmp_path, on_cross_split_duplicate="error")
