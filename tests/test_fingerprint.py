"""Data set fingerprints: DatasetIndex.fingerprint and frame_fingerprint."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from index_trees import split_tree, write_image
from PIL import Image

from kerasbench.data.fingerprint import FINGERPRINT_LENGTH, file_sha256, frame_fingerprint
from kerasbench.data.index import DatasetIndex, index_folder
from kerasbench.errors import DatasetError


def _is_fingerprint(value: str) -> bool:
    return len(value) == FINGERPRINT_LENGTH and all(c in "0123456789abcdef" for c in value)


def _touch(path: Path, seconds: float) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + int(seconds * 1e9)))


def test_same_folder_same_fingerprint(tmp_path):
    root = split_tree(tmp_path / "d")
    index = index_folder(root)
    value = index.fingerprint()
    assert _is_fingerprint(value) and _is_fingerprint(index.fingerprint(content_hash=True))
    assert value != index.fingerprint(content_hash=True)
    again = index_folder(root)
    assert again.fingerprint() == value
    assert again.fingerprint(content_hash=True) == index.fingerprint(content_hash=True)


def test_changed_file_size_or_mtime_changes_it(tmp_path):
    root = split_tree(tmp_path / "d")
    index = index_folder(root)
    before = index.fingerprint()
    image = root / "test" / "dog" / "img2.png"
    _touch(image, 5)
    touched = index.fingerprint()
    assert touched != before
    with open(image, "ab") as handle:  # one byte more: a different size
        handle.write(b"\0")
    assert index.fingerprint() not in (before, touched)


def test_renamed_class_changes_it(tmp_path):
    root = split_tree(tmp_path / "d")
    before = index_folder(root).fingerprint()
    for split in ("train", "validation", "test"):
        (root / split / "dog").rename(root / split / "puppy")
    renamed = index_folder(root)
    assert renamed.class_names == ["cat", "puppy"]
    assert renamed.fingerprint() != before


def test_class_names_list_is_part_of_it(tmp_path):
    index = index_folder(split_tree(tmp_path / "d"))
    # The same rows under a class list with one more (empty) class.
    wider = DatasetIndex(index.frame, index.class_names + ["zebra"], index.root)
    assert wider.fingerprint() != index.fingerprint()
    assert frame_fingerprint(index.frame, index.root, class_names=index.class_names) == (
        index.fingerprint()
    )


def test_moved_root_keeps_it(tmp_path):
    root = split_tree(tmp_path / "d")
    index = index_folder(root)
    moved_root = tmp_path / "elsewhere" / "copy"
    shutil.copytree(root, moved_root)  # copy2: modification times are kept
    moved = index_folder(moved_root)
    assert set(moved.frame["path"]).isdisjoint(index.frame["path"])
    assert moved.fingerprint() == index.fingerprint()
    assert moved.fingerprint(content_hash=True) == index.fingerprint(content_hash=True)
    # Without a root, paths are taken from the deepest common folder: also location-free.
    assert frame_fingerprint(moved.frame) == frame_fingerprint(index.frame)


def test_content_hash_sees_a_same_size_rewrite_with_the_old_mtime(tmp_path):
    # BMP files of one size and mode always have the same length, so a rewrite with other
    # pixels keeps the size; os.utime puts the old modification time back.
    root = tmp_path / "d"
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            for number in range(2):
                write_image(root / split / cls / f"img{number}.bmp")
    index = index_folder(root)
    default, content = index.fingerprint(), index.fingerprint(content_hash=True)
    image = root / "train" / "dog" / "img1.bmp"
    stat = image.stat()
    old_bytes = image.read_bytes()
    Image.fromarray(np.full((6, 6, 3), 123, dtype=np.uint8)).save(image, format="BMP")
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert image.read_bytes() != old_bytes
    assert image.stat().st_size == stat.st_size and image.stat().st_mtime_ns == stat.st_mtime_ns
    assert index.fingerprint() == default  # size and mtime cannot tell
    assert index.fingerprint(content_hash=True) != content


def test_relabel_resplit_reorder_change_it(tmp_path):
    index = index_folder(split_tree(tmp_path / "d"))
    value = frame_fingerprint(index.frame, index.root)
    resplit = index.frame.copy()
    resplit.loc[0, "split"] = "test"
    assert frame_fingerprint(resplit, index.root) != value
    relabelled = index.frame.copy()
    relabelled.loc[0, ["label", "class_name"]] = [1, "dog"]
    assert frame_fingerprint(relabelled, index.root) != value
    reordered = index.frame.iloc[::-1].reset_index(drop=True)
    assert frame_fingerprint(reordered, index.root) != value
    assert frame_fingerprint(index.frame.iloc[1:], index.root) != value


def test_frame_fingerprint_on_another_studys_frame(tmp_path):
    # A frame with only path, label and split (no class_name), numpy labels, relative root.
    paths = [write_image(tmp_path / "pairs" / f"{n}.png") for n in range(3)]
    frame = pd.DataFrame(
        {"path": [str(p) for p in paths], "label": np.array([0, 1, 1]), "split": "train"}
    )
    value = frame_fingerprint(frame, root=tmp_path / "pairs")
    assert _is_fingerprint(value)
    assert frame_fingerprint(frame, root=tmp_path / "pairs", content_hash=True) != value
    # Lists of paths and os.PathLike paths hash the same as strings.
    assert frame_fingerprint(frame.assign(path=paths), root=tmp_path / "pairs") == value
    # A file outside root enters with its absolute path: still works, differs.
    assert frame_fingerprint(frame, root=tmp_path / "other") != value


def test_sha256_of_a_file(tmp_path):
    path = tmp_path / "bytes.bin"
    path.write_bytes(b"abc")
    assert file_sha256(path) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_bad_frames_and_missing_files(tmp_path):
    index = index_folder(split_tree(tmp_path / "d"))
    with pytest.raises(DatasetError, match="DataFrame"):
        frame_fingerprint(index.frame.to_dict())
    with pytest.raises(DatasetError, match=r"lacks columns \['split'\]"):
        frame_fingerprint(index.frame.drop(columns=["split"]))
    gone = Path(index.frame["path"].iloc[3])
    gone.unlink()
    for content_hash in (False, True):
        with pytest.raises(FileNotFoundError, match=gone.name):
            index.fingerprint(content_hash=content_hash)
