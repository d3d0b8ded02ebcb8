"""index_folder's split of a folder of class folders, split files, and the DatasetIndex
methods (subsample, CSV round trip, with_frame, select_classes)."""

from pathlib import Path

import pandas as pd
import pytest
from index_trees import flat_tree, make_tree, split_tree, write_image
from PIL import Image

from kerasbench.data.index import DatasetIndex, index_folder, natural_key
from kerasbench.errors import ConfigError, DatasetError

# ----------------------------------------------------------------------------- flat layout


def test_flat_layout_stratified_split(tmp_path):
    root = flat_tree(tmp_path / "d")
    index = index_folder(root, validation_fraction=0.2, test_fraction=0.2, seed=3)
    counts = index.counts()
    assert list(counts["test"][:3]) == [4, 4, 2]
    assert list(counts["validation"][:3]) == [4, 4, 2]
    assert list(counts["train"][:3]) == [12, 12, 6]
    assert not index.frame["path"].duplicated().any()
    assert len(index) == 50
    # Rows stay in index order inside each split.
    test = index.split("test")
    keys = [(label, natural_key(Path(p).name)) for label, p in zip(test["label"], test["path"])]
    assert keys == sorted(keys)


def test_flat_split_is_seeded(tmp_path):
    root = flat_tree(tmp_path / "d")
    a = index_folder(root, seed=1).frame
    b = index_folder(root, seed=1).frame
    c = index_folder(root, seed=2).frame
    pd.testing.assert_frame_equal(a, b)
    assert set(a["path"][a["split"] == "test"]) != set(c["path"][c["split"] == "test"])


def test_fractions_zero_keep_everything_in_train(tmp_path):
    root = flat_tree(tmp_path / "d", (3, 2))
    index = index_folder(root, validation_fraction=0.0, test_fraction=0.0)
    assert index.splits == ["train"] and len(index) == 5


def test_split_too_small_to_stratify(tmp_path):
    root = flat_tree(tmp_path / "d", (1, 1, 1, 1))
    with pytest.raises(DatasetError, match="stratified split"):
        index_folder(root, validation_fraction=0.25, test_fraction=0.25)


def test_split_file_round_trip(tmp_path, capsys):
    root = flat_tree(tmp_path / "d")
    split_file = tmp_path / "splits" / "d.csv"
    first = index_folder(root, split_file=split_file, seed=5)
    assert split_file.is_file()
    assert "wrote the split" in capsys.readouterr().out
    table = pd.read_csv(split_file)
    assert list(table.columns) == ["path", "class_name", "split"]
    assert table["path"].iloc[0] == "class1/img1.png"
    assert not table["path"].duplicated().any()

    # A different seed and fractions do not matter once the file exists.
    again = index_folder(root, split_file=split_file, seed=99, test_fraction=0.3)
    assert "reusing the split" in capsys.readouterr().out
    pd.testing.assert_frame_equal(first.frame, again.frame)


def test_split_file_that_no_longer_matches(tmp_path):
    root = flat_tree(tmp_path / "d")
    split_file = tmp_path / "split.csv"
    index_folder(root, split_file=split_file)
    (root / "class2" / "img3.png").unlink()
    with pytest.raises(DatasetError, match=r"1 listed files are missing.*class2/img3.png"):
        index_folder(root, split_file=split_file)
    write_image(root / "class2" / "img3.png")
    write_image(root / "class1" / "new.png")
    with pytest.raises(DatasetError, match=r"1 images are not listed.*class1/new.png"):
        index_folder(root, split_file=split_file)


def test_bad_split_file(tmp_path):
    root = flat_tree(tmp_path / "d", (3, 3))
    split_file = tmp_path / "split.csv"
    split_file.write_text("file,part\nclass1/img1.png,train\n")
    with pytest.raises(DatasetError, match="needs columns 'path' and 'split'"):
        index_folder(root, split_file=split_file)
    split_file.write_text("path,split\nclass1/img1.png,holdout\n")
    with pytest.raises(DatasetError, match="unknown split names.*holdout"):
        index_folder(root, split_file=split_file)


def test_split_file_ignored_for_split_layout(tmp_path, capsys):
    root = split_tree(tmp_path / "d")
    index_folder(root, split_file=tmp_path / "s.csv")
    assert "is not used" in capsys.readouterr().out
    assert not (tmp_path / "s.csv").exists()


# ----------------------------------------------------------------------------- DatasetIndex


def test_subsample_per_class_counts_and_seed(tmp_path, capsys):
    root = make_tree(
        tmp_path / "d",
        {
            "train/a": 10,
            "train/b": 3,
            "validation/a": 4,
            "validation/b": 4,
            "test/a": 2,
            "test/b": 2,
        },
    )
    index = index_folder(root)
    small = index.subsample({"train": 5, "val": 2}, seed=7)
    counts = small.counts()
    assert counts.loc["a", "train"] == 5
    assert counts.loc["b", "train"] == 3  # fewer than asked: all kept
    assert "class 'b' has 3 train images (< 5), keeping all" in capsys.readouterr().out
    assert list(counts.loc[["a", "b"], "validation"]) == [2, 2]
    assert list(counts.loc[["a", "b"], "test"]) == [2, 2]  # not named: untouched
    again = index.subsample({"train": 5, "validation": 2}, seed=7)
    pd.testing.assert_frame_equal(small.frame, again.frame)
    other = index.subsample({"train": 5, "validation": 2}, seed=8)
    assert set(other.frame["path"]) != set(small.frame["path"])
    assert set(small.frame["path"]) <= set(index.frame["path"])
    # Index order is kept.
    order = [index.frame.index[index.frame["path"] == p][0] for p in small.frame["path"]]
    assert order == sorted(order)


def test_subsample_total_per_split_is_stratified(tmp_path):
    root = flat_tree(tmp_path / "d", (30, 10))
    index = index_folder(root, validation_fraction=0, test_fraction=0)
    small = index.subsample({"train": 20}, seed=0, per_class=False)
    assert list(small.counts()["train"][:2]) == [15, 5]


def test_subsample_bad_requests(tmp_path):
    index = index_folder(split_tree(tmp_path / "d", counts=(3, 0, 1)))
    with pytest.raises(DatasetError, match="present splits: train, test"):
        index.subsample({"validation": 2})
    with pytest.raises(ConfigError, match="int >= 0"):
        index.subsample({"train": -1})


def test_to_csv_from_csv_round_trip(tmp_path):
    index = index_folder(split_tree(tmp_path / "d"))
    path = index.to_csv(tmp_path / "index.csv")
    assert pd.read_csv(path)["path"].iloc[0] == "train/cat/img1.png"
    back = DatasetIndex.from_csv(path, root=tmp_path / "d")
    pd.testing.assert_frame_equal(back.frame, index.frame)
    assert back.class_names == index.class_names
    (tmp_path / "d" / "train" / "cat" / "img1.png").unlink()
    with pytest.raises(DatasetError, match="do not exist"):
        DatasetIndex.from_csv(path, root=tmp_path / "d")


def test_with_frame_checks_its_input(tmp_path):
    index = index_folder(split_tree(tmp_path / "d"))
    train_only = index.with_frame(index.split("train"))
    assert train_only.splits == ["train"] and train_only.class_names == index.class_names
    broken = index.frame.copy()
    broken.loc[0, "label"] = 5
    with pytest.raises(DatasetError, match="labels outside 0..1"):
        index.with_frame(broken)
    with pytest.raises(DatasetError, match="lacks columns"):
        index.with_frame(index.frame.drop(columns=["split"]))
    mislabeled = index.frame.copy()
    mislabeled.loc[0, "class_name"] = "dog"
    with pytest.raises(DatasetError, match="class_name does not match"):
        index.with_frame(mislabeled)


def test_select_classes_relabels_in_the_given_order(tmp_path):
    for split in ("train", "test"):
        for name in ("apple", "banana", "cherry"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for number in range(2):
                Image.new("RGB", (4, 4), (number * 90, len(name) * 20, len(split) * 30)).save(folder / f"{number}.png")
    index = index_folder(tmp_path)
    binary = index.select_classes(["cherry", "apple"])
    assert binary.class_names == ["cherry", "apple"]
    train = binary.split("train")
    assert train["class_name"].tolist() == ["cherry", "cherry", "apple", "apple"]
    assert train["label"].tolist() == [0, 0, 1, 1]
    assert len(binary.split("test")) == 4
    with pytest.raises(ValueError, match="banan"):
        index.select_classes(["bananas"])
