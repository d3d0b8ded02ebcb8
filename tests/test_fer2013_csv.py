"""The FER2013 CSV reader and its conversion into image folders
(kerasbench.studies.fer2013.csv, moved from kerasbench.data.sources)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasbench.data.index import index_folder
from kerasbench.errors import ConfigError, DatasetError
from kerasbench.studies.fer2013.csv import (
    FER2013_CLASSES,
    fer2013_csv_to_folders,
    iter_fer2013_csv,
    read_fer2013_csv,
)


def fer_rows(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    usages = ["Training", "Training", "PublicTest", "PrivateTest"]
    rows = []
    for i in range(n):
        pixels = rng.integers(0, 256, 48 * 48)
        # Blocks of seven rows, one per emotion code, so every split gets every class.
        rows.append((i % 7, " ".join(map(str, pixels)), usages[(i // 7) % 4]))
    return rows


def write_fer_csv(path: Path, rows: list, header="emotion,pixels,Usage") -> Path:
    lines = [header] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fer_classes_follow_the_codes():
    assert FER2013_CLASSES == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_read_fer_csv_chunked_equals_unchunked(tmp_path):
    rows = fer_rows(11)
    path = write_fer_csv(tmp_path / "fer.csv", rows)
    whole = read_fer2013_csv(path, chunksize=None)
    chunked = read_fer2013_csv(path, chunksize=3)
    for a, b in zip(whole, chunked):
        np.testing.assert_array_equal(a, b)
    assert whole.images.shape == (11, 48, 48) and whole.images.dtype == np.uint8
    assert list(whole.labels) == [i % 7 for i in range(11)]
    expected = np.array([int(v) for v in rows[5][1].split()], dtype=np.uint8).reshape(48, 48)
    np.testing.assert_array_equal(whole.images[5], expected)
    assert FER2013_CLASSES[whole.labels[4]] == "sad"
    assert FER2013_CLASSES[whole.labels[6]] == "neutral"
    assert list(whole.rows) == list(range(11))
    assert len(list(iter_fer2013_csv(path, chunksize=4))) == 3


def test_read_fer_csv_usage_filter(tmp_path):
    path = write_fer_csv(tmp_path / "fer.csv", fer_rows(28))
    training = read_fer2013_csv(path, usage="Training", chunksize=5)
    assert set(training.usage) == {"Training"} and len(training.labels) == 14
    tests = read_fer2013_csv(path, usage=["publictest", "PrivateTest"])
    assert set(tests.usage) == {"PublicTest", "PrivateTest"} and list(tests.rows[:2]) == [14, 15]
    with pytest.raises(ConfigError, match="unknown FER2013 usage"):
        read_fer2013_csv(path, usage="Validation")


def test_read_fer_csv_tolerates_spacing_and_missing_usage(tmp_path):
    rows = fer_rows(3)
    spaced = [(e, "  " + p.replace(" ", "  ", 5) + " ", u) for e, p, u in rows]
    path = write_fer_csv(tmp_path / "spaced.csv", spaced, header="emotion, pixels, Usage")
    np.testing.assert_array_equal(
        read_fer2013_csv(path).images,
        read_fer2013_csv(write_fer_csv(tmp_path / "b.csv", rows)).images,
    )
    no_usage = write_fer_csv(tmp_path / "train.csv", [(e, p) for e, p, _ in rows], "emotion,pixels")
    with pytest.raises(DatasetError, match="default_usage"):
        read_fer2013_csv(no_usage)
    assert set(read_fer2013_csv(no_usage, default_usage="Training").usage) == {"Training"}


@pytest.mark.parametrize(
    "row, message",
    [
        ((9, None, "Training"), "has emotion '9'"),
        (("x", None, "Training"), "has emotion 'x'"),
        ((1, None, "Validation"), "has Usage 'Validation'"),
        ((1, "1 2 3", "Training"), "has 3 pixel values, not 2304"),
        ((1, "300 " * 2304, "Training"), "has pixel values outside 0..255"),
        ((1, "a " * 2304, "Training"), "has pixel values that are not integers"),
    ],
)
def test_read_fer_csv_bad_rows_name_the_row(tmp_path, row, message):
    rows = fer_rows(6)
    emotion, pixels, usage = row
    rows[4] = (emotion, (pixels or rows[4][1]).strip(), usage)
    path = write_fer_csv(tmp_path / "fer.csv", rows)
    for chunksize in (None, 2):
        with pytest.raises(DatasetError, match=rf"data row 4 \(file line 6\) {message}"):
            read_fer2013_csv(path, chunksize=chunksize)


def test_read_fer_csv_missing_file_and_columns(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_fer2013_csv(tmp_path / "nope.csv")
    path = write_fer_csv(tmp_path / "f.csv", [(1, 2)], header="label,image")
    with pytest.raises(DatasetError, match="expected"):
        read_fer2013_csv(path)


def test_fer_csv_to_folders(tmp_path, capsys):
    rows = fer_rows(28)
    path = write_fer_csv(tmp_path / "fer.csv", rows)
    out = fer2013_csv_to_folders(path, tmp_path / "fer", chunksize=4)
    assert "wrote 28 images" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["test", "train"]
    # Row 4 is code 4 (sad), Training; row 16 is code 2 (fear), PublicTest -> test/.
    image = np.asarray(Image.open(out / "train" / "sad" / "4.png"))
    np.testing.assert_array_equal(
        image, np.array(rows[4][1].split(), dtype=np.uint8).reshape(48, 48)
    )
    assert (out / "test" / "fear" / "16.png").is_file()
    assert (out / "train" / "neutral" / "6.png").is_file()
    index = index_folder(out)
    assert len(index.split("train")) == 14 and len(index.split("test")) == 14
    assert index.class_names == sorted(FER2013_CLASSES)
    assert fer2013_csv_to_folders(path, out) == out  # already complete: left alone

    with_val = fer2013_csv_to_folders(path, tmp_path / "fer-val", public_test_as_validation=True)
    index = index_folder(with_val, check_images=False)
    assert [len(index.split(s)) for s in ("train", "validation", "test")] == [14, 7, 7]
    with pytest.raises(DatasetError, match="other settings"):
        fer2013_csv_to_folders(path, out, public_test_as_validation=True)


def test_fer_csv_to_folders_refuses_other_folders_and_cleans_up(tmp_path):
    path = write_fer_csv(tmp_path / "fer.csv", fer_rows(4))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match="not an empty folder"):
        fer2013_csv_to_folders(path, busy)
    rows = fer_rows(4)
    rows[3] = (1, "1 2", "Training")
    bad = write_fer_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DatasetError, match="data row 3"):
        fer2013_csv_to_folders(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_folders_converted_before_the_move_are_still_complete(tmp_path):
    path = write_fer_csv(tmp_path / "fer.csv", fer_rows(7))
    out = fer2013_csv_to_folders(path, tmp_path / "fer")
    marker = out / "FER2013_FOLDERS.txt"
    text = marker.read_text(encoding="utf-8")
    assert text.startswith("FER2013 image folders written by kerasbench.studies.fer2013.csv.")
    # The marker the converter wrote while it lived in kerasbench.data.sources.
    marker.write_text(text.replace("kerasbench.studies.fer2013.csv.", "kerasbench.data.sources."),
                      encoding="utf-8")
    assert fer2013_csv_to_folders(path, out) == out
