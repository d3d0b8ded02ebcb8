"""Image files that are not what their names say: caught at index time, naming each file;
unusual but valid images decode to the same float32 RGB every model expects."""

import numpy as np
import pytest
import robustness_helpers

from kerasbench.data.index import index_folder
from kerasbench.errors import DatasetError


@pytest.fixture
def helpers():
    return robustness_helpers


def _two_classes(tmp_path, helpers, ext=".jpg"):
    root = helpers.tree(tmp_path / "data", {"cat": 4, "dog": 4}, ext=ext)
    return root, root / "cat" / f"img1{ext}"


@pytest.mark.parametrize("damage, ext, mode", [
    ("truncated", ".jpg", True),
    ("truncated", ".jpg", "decode"),
    ("corrupt_middle", ".jpg", True),
    ("truncated", ".png", True),
    ("text", ".jpg", True),
    ("empty", ".png", True),
])
def test_a_bad_image_file_is_named_at_index_time(tmp_path, helpers, damage, ext, mode):
    root, bad = _two_classes(tmp_path, helpers, ext)
    if damage == "truncated":
        helpers.truncated(bad, 0.6)
    elif damage == "corrupt_middle":
        # Large enough that the junk lands in the compressed scan, not the header.
        helpers.image(bad, size=(64, 64))
        helpers.corrupt_middle(bad)
    elif damage == "text":
        bad.write_text("<html>404 Not Found</html>")
    else:
        bad.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"1 files under .* cannot be read as images:\n  "
                                           + str(bad)):
        index_folder(root, validation_fraction=0, test_fraction=0, check_images=mode)


def test_on_corrupt_skip_leaves_the_file_out_and_names_it(tmp_path, helpers, capsys):
    root, bad = _two_classes(tmp_path, helpers)
    helpers.truncated(bad, 0.5)
    index = index_folder(root, validation_fraction=0, test_fraction=0, on_corrupt="skip")
    assert len(index) == 7 and str(bad) not in set(index.frame["path"])
    assert f"skipping 1 unreadable images:\n  {bad}" in capsys.readouterr().out


def test_skipping_every_image_of_a_class_names_the_class(tmp_path, helpers):
    root = helpers.tree(tmp_path / "data", {"cat": 2, "dog": 3})
    for path in (root / "cat").iterdir():
        path.write_text("not an image")
    with pytest.raises(DatasetError, match=r"classes \['cat'\] .* have no images"):
        index_folder(root, validation_fraction=0, test_fraction=0, on_corrupt="skip")


def _make_unusual(path, kind, helpers):
    from PIL import Image

    if kind == "grey":
        helpers.image(path.with_suffix(".png"), mode="L")
    elif kind == "rgba":
        helpers.image(path.with_suffix(".png"), mode="RGBA")
    elif kind == "palette":
        helpers.image(path.with_suffix(".png"), mode="P")
    elif kind == "cmyk":
        helpers.image(path.with_suffix(".jpg"), mode="CMYK")
    elif kind == "16bit":
        helpers.image(path.with_suffix(".png"), mode="I;16")
    elif kind == "tiny":
        Image.new("RGB", (1, 1), (10, 200, 30)).save(path.with_suffix(".png"))
    elif kind == "grey_jpeg":
        helpers.image(path.with_suffix(".jpg"), mode="L")
    return next(p for p in path.parent.iterdir() if p.stem == path.name)


@pytest.mark.parametrize("kind", ["grey", "rgba", "palette", "cmyk", "16bit", "tiny",
                                  "grey_jpeg"])
def test_unusual_images_index_and_decode_to_rgb_floats(tmp_path, helpers, kind):
    from kerasbench.pipeline import make_dataset

    root = helpers.tree(tmp_path / "data", {"cat": 2, "dog": 2})
    odd = _make_unusual(root / "cat" / "odd", kind, helpers)
    index = index_folder(root, validation_fraction=0, test_fraction=0)
    assert str(odd) in set(index.frame["path"])
    images, labels = next(iter(make_dataset(index.frame, image_size=16, batch_size=8)))
    images = images.numpy()
    assert images.shape == (5, 16, 16, 3) and images.dtype == np.float32
    assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 255
    assert labels.numpy().tolist() == index.frame["label"].tolist()


@pytest.mark.parametrize("damage", ["corrupt_middle", "truncated", "text"])
def test_unchecked_file_that_fails_to_decode_names_its_path(tmp_path, helpers, damage):
    """With check_images=False the pipeline is the first to read the file; its error must
    name the file itself (not only TensorFlow's graph traceback)."""
    from kerasbench.pipeline import make_dataset

    root, bad = _two_classes(tmp_path, helpers)
    helpers.image(bad, size=(64, 64))
    if damage == "corrupt_middle":
        helpers.corrupt_middle(bad)
    elif damage == "truncated":
        helpers.truncated(bad, 0.5)
    else:
        bad.write_text("<html>404 Not Found</html>")
    index = index_folder(root, validation_fraction=0, test_fraction=0, check_images=False)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the type is the pipeline's
        for _ in make_dataset(index.frame, image_size=16, batch_size=4):
            pass
    # The message itself (what a notebook shows on its last line), not the traceback.
    first_line = str(caught.value).strip().splitlines()[0] if str(caught.value).strip() else ""
    assert str(bad) in first_line, f"{type(caught.value).__name__}: {first_line[:300]}"
