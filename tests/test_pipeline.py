"""Pipeline: decoding of every format (native or PIL), order, shuffling, caching, labels, errors."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image, features

from kerasbench.errors import ConfigError, DatasetError
from kerasbench.pipeline import (
    Augmentation,
    dataset_with_paths,
    describe_pipeline,
    load_image,
    make_dataset,
    read_image,
)

LUMA = np.array([0.299, 0.587, 0.114])


def _frame(paths, labels=None):
    labels = list(range(len(paths))) if labels is None else labels
    return pd.DataFrame(
        {
            "path": [str(p) for p in paths],
            "label": labels,
            "class_name": [f"c{v}" for v in labels],
            "split": "train",
        }
    )


def _numbered_images(folder, n, size=(6, 5)):
    """n PNG files whose every pixel holds the file's number (so order is visible)."""
    paths = []
    for i in range(n):
        path = folder / f"img_{i:03d}.png"
        # Varied sizes so decode times differ and a non-deterministic map would reorder.
        h, w = size[0] + (i % 4) * 3, size[1] + (i % 3) * 5
        Image.fromarray(np.full((h, w, 3), i, np.uint8)).save(path)
        paths.append(path)
    return paths


def _all_values(dataset):
    images, labels = [], []
    for x, y in dataset:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


# --------------------------------------------------------------------------- decoding

RGB = (200, 100, 50)


def _write(kind, folder):
    """(path, expected RGB float triple) for one small image of each format/mode."""
    path = folder / f"{kind}"
    if kind == "grey.png":
        Image.fromarray(np.full((4, 5), 100, np.uint8), "L").save(path)
        return path, (100, 100, 100)
    if kind == "rgb.png":
        Image.new("RGB", (5, 4), RGB).save(path)
        return path, RGB
    if kind == "rgba.png":
        # Half-transparent black over white: 255 * (1 - 128/255) = 127.
        Image.new("RGBA", (5, 4), (0, 0, 0, 128)).save(path)
        return path, (127, 127, 127)
    if kind == "la.png":
        Image.new("LA", (5, 4), (0, 0)).save(path)  # fully transparent -> white
        return path, (255, 255, 255)
    if kind == "palette.png":
        Image.new("RGB", (5, 4), RGB).convert("P", palette=Image.Palette.ADAPTIVE).save(path)
        return path, RGB
    if kind == "palette_transparent.png":
        img = Image.new("P", (5, 4), 1)
        img.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
        img.save(path, transparency=1)  # index 1 transparent -> white
        return path, (255, 255, 255)
    if kind == "cmyk.jpg":
        Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, quality=100)  # red
        return path, (255, 0, 0)
    if kind == "sixteen.png":
        Image.fromarray(np.full((4, 5), 128 * 257, np.uint16)).save(path)
        assert Image.open(path).mode.startswith("I")
        return path, (128, 128, 128)
    if kind == "grey.pgm":
        Image.fromarray(np.full((4, 5), 77, np.uint8), "L").save(path)
        return path, (77, 77, 77)
    if kind == "sixteen.pgm":
        Image.fromarray(np.full((4, 5), 65535, np.uint16)).save(path)
        return path, (255, 255, 255)
    if kind == "rgb.ppm":
        Image.new("RGB", (5, 4), RGB).save(path)
        return path, RGB
    if kind == "rgb.bmp":
        Image.new("RGB", (5, 4), RGB).save(path)
        return path, RGB
    if kind == "bilevel.bmp":
        Image.new("1", (5, 4), 1).save(path)
        return path, (255, 255, 255)
    if kind == "animated.gif":
        frames = [Image.new("RGB", (5, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
        frames[0].save(path, save_all=True, append_images=frames[1:])
        return path, (255, 0, 0)
    if kind == "rgb.tif":
        Image.new("RGB", (5, 4), RGB).save(path)
        return path, RGB
    if kind == "sixteen.tif":
        Image.fromarray(np.full((4, 5), 65535 // 2, np.uint16)).save(path)
        return path, (127.5, 127.5, 127.5)
    if kind == "rgb.webp":
        if not features.check("webp"):
            pytest.skip("Pillow built without WebP")
        Image.new("RGB", (5, 4), RGB).save(path, lossless=True)
        return path, RGB
    raise AssertionError(kind)


KINDS = [
    "grey.png",
    "rgb.png",
    "rgba.png",
    "la.png",
    "palette.png",
    "palette_transparent.png",
    "cmyk.jpg",
    "sixteen.png",
    "grey.pgm",
    "sixteen.pgm",
    "rgb.ppm",
    "rgb.bmp",
    "bilevel.bmp",
    "animated.gif",
    "rgb.tif",
    "sixteen.tif",
    "rgb.webp",
]


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_converts_to_requested_channels(tmp_path, kind):
    path, expected = _write(kind, tmp_path)
    tolerance = 3.0 if kind.endswith(".jpg") else 0.51
    rgb = read_image(path, channels=3)
    assert rgb.dtype == np.float32 and rgb.ndim == 3 and rgb.shape[-1] == 3
    np.testing.assert_allclose(rgb.mean(axis=(0, 1)), expected, atol=tolerance)
    grey = read_image(path, channels=1)
    assert grey.shape == rgb.shape[:2] + (1,)
    np.testing.assert_allclose(grey.mean(), float(LUMA @ np.asarray(expected)), atol=tolerance)
    assert 0.0 <= rgb.min() and rgb.max() <= 255.0


def test_mixed_formats_in_one_dataset(tmp_path):
    kinds = ["grey.png", "rgba.png", "palette.png", "cmyk.jpg", "sixteen.png", "grey.pgm"]
    written = [_write(kind, tmp_path) for kind in kinds]
    frame = _frame([p for p, _ in written])
    for channels in (3, 1):
        images, labels = _all_values(
            make_dataset(frame, image_size=(4, 5), channels=channels, batch_size=4)
        )
        assert images.shape == (len(kinds), 4, 5, channels)
        np.testing.assert_array_equal(labels, np.arange(len(kinds)))
        for image, (_, expected) in zip(images, written):
            want = expected if channels == 3 else [LUMA @ np.asarray(expected)]
            tolerance = 3.0 if image is images[3] else 0.51
            np.testing.assert_allclose(image.mean(axis=(0, 1)), want, atol=tolerance)


# --------------------------------------------------------------------------- order


def test_evaluation_keeps_frame_order_with_parallel_decode(tmp_path):
    paths = _numbered_images(tmp_path, 40)
    labels = [i % 7 for i in range(40)]
    frame = _frame(paths, labels)
    # A filtered frame with a gappy index must still be read by position.
    frame = frame.set_axis(range(100, 140))
    images, got_labels = _all_values(make_dataset(frame, image_size=(6, 5), batch_size=6))
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_allclose(images[:, 0, 0, 0], np.arange(40), atol=1e-3)
    seen = [
        p.decode()
        for _, _, batch in dataset_with_paths(frame, image_size=4, batch_size=9)
        for p in batch.numpy()
    ]
    assert seen == frame["path"].tolist()


def test_shuffle_is_seeded_and_reshuffles_each_epoch(tmp_path):
    frame = _frame(_numbered_images(tmp_path, 24, size=(3, 3)))

    def epochs(dataset, n=2):
        return [_all_values(dataset)[1].tolist() for _ in range(n)]

    kwargs = dict(image_size=3, batch_size=5, shuffle=True, seed=7)
    a = epochs(make_dataset(frame, **kwargs))
    b = epochs(make_dataset(frame, **kwargs))
    assert a == b
    assert a[0] != a[1] and sorted(a[0]) == list(range(24)) == sorted(a[1])
    assert a[0] != list(range(24))
    assert epochs(make_dataset(frame, **{**kwargs, "seed": 8}))[0] != a[0]
    # Shuffling before decoding (no cache) and after caching give the same order.
    assert epochs(make_dataset(frame, cache="memory", **kwargs)) == a


def test_repeat_and_drop_remainder(tmp_path):
    frame = _frame(_numbered_images(tmp_path, 5, size=(3, 3)))
    batches = list(make_dataset(frame, image_size=3, batch_size=2, repeat=True).take(5))
    assert [int(b[0].shape[0]) for b in batches] == [2, 2, 2, 2, 2]
    batches = list(make_dataset(frame, image_size=3, batch_size=2, drop_remainder=True))
    assert len(batches) == 2


# --------------------------------------------------------------------------- cache


def test_memory_cache_serves_later_epochs(tmp_path):
    paths = _numbered_images(tmp_path, 6, size=(3, 3))
    dataset = make_dataset(_frame(paths), image_size=3, batch_size=4, cache="memory")
    first = _all_values(dataset)
    for path in paths:
        os.remove(path)  # a second epoch that decoded again would fail now
    second = _all_values(dataset)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_disk_cache_writes_files_per_configuration(tmp_path):
    paths = _numbered_images(tmp_path, 6, size=(3, 3))
    cache = tmp_path / "cache"
    dataset = make_dataset(_frame(paths), image_size=3, batch_size=4, cache=str(cache))
    first = _all_values(dataset)
    written = sorted(os.listdir(cache))
    assert any(name.endswith(".index") for name in written)
    for path in paths:
        os.rename(path, str(path) + ".moved")
    second = _all_values(dataset)
    np.testing.assert_array_equal(first[0], second[0])
    for path in paths:
        os.rename(str(path) + ".moved", path)
    # Another image size must not read the first cache.
    other = make_dataset(_frame(paths), image_size=2, batch_size=4, cache=cache)
    assert _all_values(other)[0].shape[1:3] == (2, 2)
    assert len(os.listdir(cache)) > len(written)


# --------------------------------------------------------------------------- labels


def test_label_modes(tmp_path):
    frame = _frame(_numbered_images(tmp_path, 4, size=(3, 3)), [0, 1, 1, 0])
    x, y = next(iter(make_dataset(frame, image_size=3, batch_size=4)))
    assert y.dtype.name == "int32" and y.shape == (4,)
    assert x.dtype.name == "float32" and x.shape == (4, 3, 3, 3)
    _, y = next(iter(make_dataset(frame, image_size=3, label_mode="categorical", num_classes=3)))
    np.testing.assert_array_equal(y.numpy(), np.eye(3, dtype=np.float32)[[0, 1, 1, 0]])
    _, y = next(iter(make_dataset(frame, image_size=3, label_mode="binary")))
    assert y.dtype.name == "float32" and y.shape == (4, 1)
    np.testing.assert_array_equal(y.numpy()[:, 0], [0, 1, 1, 0])
    x = next(iter(make_dataset(frame.drop(columns="label"), image_size=3, label_mode=None)))
    assert x.shape == (4, 3, 3, 3)


@pytest.mark.parametrize(
    "kwargs, labels, error, match",
    [
        ({"label_mode": "sparse"}, [0, 1], ConfigError, "label_mode"),
        ({"label_mode": "categorical"}, [0, 1], ConfigError, "num_classes"),
        ({"label_mode": "binary"}, [0, 2], DatasetError, "0/1"),
        ({"num_classes": 2}, [0, 2], DatasetError, "num_classes=2"),
        ({}, [0.5, 1], DatasetError, "integer"),
        ({"image_size": (3, 0)}, [0, 1], ConfigError, "positive"),
        ({"image_size": 3.5}, [0, 1], ConfigError, "image_size"),
        ({"interpolation": "cubic"}, [0, 1], ConfigError, "interpolation"),
        ({"channels": 4}, [0, 1], ConfigError, "channels"),
        ({"batch_size": 0}, [0, 1], ConfigError, "batch_size"),
        ({"cache": 3}, [0, 1], ConfigError, "cache"),
        ({"augmentation": {"rescale": 1 / 255}}, [0, 1], ValueError, "rescale"),
    ],
)
def test_bad_settings_raise(tmp_path, kwargs, labels, error, match):
    frame = _frame(_numbered_images(tmp_path, 2, size=(3, 3)), labels)
    kwargs = {"image_size": 3, **kwargs}
    with pytest.raises(error, match=match):
        make_dataset(frame, **kwargs)


def test_frame_errors(tmp_path):
    paths = _numbered_images(tmp_path, 2, size=(3, 3))
    with pytest.raises(DatasetError, match="empty"):
        make_dataset(_frame(paths).iloc[:0], image_size=3)
    with pytest.raises(DatasetError, match="label"):
        make_dataset(_frame(paths).drop(columns="label"), image_size=3)
    with pytest.raises(DatasetError, match="DataFrame"):
        make_dataset([str(p) for p in paths], image_size=3)
    with pytest.raises(FileNotFoundError, match="nope.png"):
        make_dataset(_frame([*paths, tmp_path / "nope.png"]), image_size=3)


def test_decode_errors_name_the_file(tmp_path):
    paths = _numbered_images(tmp_path, 3, size=(3, 3))
    dataset = make_dataset(_frame(paths), image_size=3)
    os.remove(paths[1])  # vanishes after the dataset was built
    with pytest.raises(Exception, match="img_001.png"):
        list(dataset)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="broken.jpg"):
        read_image(broken)
    with pytest.raises(Exception, match="broken.jpg"):
        list(make_dataset(_frame([paths[0], broken]), image_size=3))
    with pytest.raises(FileNotFoundError, match="img_001.png"):
        load_image(paths[1])


# --------------------------------------------------------------------------- resize, augment


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic", "area", "lanczos3"])
def test_resize_keeps_values_in_range(tmp_path, interpolation):
    path = tmp_path / "checker.png"
    checker = (np.indices((16, 12)).sum(0) % 2 * 255).astype(np.uint8)
    Image.fromarray(checker, "L").save(path)
    image = load_image(path, image_size=(5, 7), interpolation=interpolation)
    assert image.shape == (5, 7, 3) and image.min() >= 0 and image.max() <= 255
    # Already the requested size: no resampling at all.
    np.testing.assert_array_equal(load_image(path, image_size=(16, 12))[..., 0], checker)


def test_load_image_matches_pipeline(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (13, 17, 3), np.uint8)).save(path)
    ((batch, _),) = make_dataset(_frame([path]), image_size=(8, 9), batch_size=1)
    np.testing.assert_array_equal(load_image(path, image_size=(8, 9)), batch.numpy()[0])
    assert load_image(path).shape == (13, 17, 3)
    assert load_image(path, image_size=6, channels=1).shape == (6, 6, 1)


def test_augmentation_runs_on_batches_reproducibly(tmp_path):
    paths = []
    for i in range(8):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (8, 8, 3), np.uint8)).save(path)
        paths.append(path)
    frame = _frame(paths)
    plain, labels = _all_values(make_dataset(frame, image_size=8, batch_size=4))

    def augmented(**extra):
        aug = Augmentation(horizontal_flip=True, rotation_range=20, seed=5)
        return _all_values(
            make_dataset(frame, image_size=8, batch_size=4, augmentation=aug, **extra)
        )

    first, first_labels = augmented()
    np.testing.assert_array_equal(first_labels, labels)
    assert not np.allclose(first, plain)
    np.testing.assert_array_equal(first, augmented()[0])
    # Identity settings are skipped entirely: bit-identical to no augmentation.
    same, _ = _all_values(
        make_dataset(frame, image_size=8, batch_size=4, augmentation=Augmentation(rotation_range=0))
    )
    np.testing.assert_array_equal(same, plain)
    # A config dict works as well as an Augmentation.
    dict_aug = {"horizontal_flip": True, "rotation_range": 20, "seed": 5}
    from_dict = _all_values(make_dataset(frame, image_size=8, batch_size=4, augmentation=dict_aug))[
        0
    ]
    np.testing.assert_array_equal(from_dict, first)


def test_describe_pipeline_is_json_ready(tmp_path):
    record = describe_pipeline(
        image_size=224,
        channels=3,
        interpolation="bicubic",
        cache=str(tmp_path),
        augmentation=Augmentation(rotation_range=15, horizontal_flip=True),
        batch_size=32,
        shuffle=True,
        seed=1,
    )
    assert record["image_size"] == [224, 224] and record["interpolation"] == "bicubic"
    assert record["cache"] == "disk" and record["channels"] == 3
    assert record["augmentation"]["rotation_range"] == 15.0
    assert record["alpha"] == "composited on white"
    assert json.loads(json.dumps(record)) == record
    assert describe_pipeline(image_size=(3, 4), augmentation=Augmentation())["augmentation"] is None
