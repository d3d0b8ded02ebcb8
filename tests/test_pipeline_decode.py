"""Native (TensorFlow) vs PIL decoding: which files go where, where the two differ, errors."""

import io

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path
from PIL import Image

from kerasbench.errors import DatasetError
from kerasbench.pipeline import (
    DECODER_NAMES,
    check_decodes,
    load_image,
    make_dataset,
    read_image,
    sniff,
)
from kerasbench.pipeline.decode import JPEG_TOLERANCE, LUMA_TOLERANCE
from kerasbench.pipeline.resize import BILINEAR_TOLERANCE, banded_bilinear_resize, resize


def _decoder(path):
    return DECODER_NAMES[sniff(path)]


def _pixels(h=12, w=10, c=3, seed=0):
    shape = (h, w) if c == 1 else (h, w, c)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _palette_image(seed=0, transparency=None):
    img = Image.fromarray(_pixels(seed=seed)).convert("P", palette=Image.Palette.ADAPTIVE)
    if transparency is not None:
        img.info["transparency"] = transparency
    return img


def _write(kind, folder):
    """Write one small file of ``kind``; returns (path, expected decoder name)."""
    path = folder / kind
    if kind == "rgb.jpg":
        Image.fromarray(_pixels()).save(path, quality=90)
        return path, "jpeg_rgb"
    if kind == "progressive.jpg":
        Image.fromarray(_pixels(17, 23)).save(path, quality=80, progressive=True)
        return path, "jpeg_rgb"
    if kind == "grey.jpg":
        Image.fromarray(_pixels(c=1), "L").save(path, quality=90)
        return path, "jpeg_grey"
    if kind == "cmyk.jpg":
        Image.fromarray(_pixels(c=4), "CMYK").save(path, quality=95)
        return path, "pil"
    if kind == "grey.png":
        Image.fromarray(_pixels(c=1), "L").save(path)
        return path, "png_grey"
    if kind == "rgb.png":
        Image.fromarray(_pixels()).save(path)
        return path, "png_rgb"
    if kind == "interlaced.png":
        Image.fromarray(_pixels(19, 13)).save(path, interlace=1)
        return path, "png_rgb"
    if kind == "rgba.png":
        Image.fromarray(_pixels(c=4), "RGBA").save(path)
        return path, "png_rgba"
    if kind == "la.png":
        Image.fromarray(_pixels(c=4)[..., :2], "LA").save(path)
        return path, "png_grey_alpha"
    if kind == "palette.png":
        _palette_image().save(path)
        return path, "png_rgb"
    if kind == "palette_transparent.png":
        img = _palette_image()
        img.save(path, transparency=bytes(range(0, 256)))  # a ramp of partial alpha
        return path, "png_rgba"
    if kind == "sixteen.png":
        Image.fromarray(_pixels(c=1).astype(np.uint16) * 257).save(path)
        return path, "pil"
    if kind == "rgb.bmp":
        Image.fromarray(_pixels(12, 7)).save(path)  # odd width: padded rows
        return path, "bmp"
    if kind == "bilevel.bmp":
        Image.new("1", (5, 4), 1).save(path)
        return path, "pil"
    if kind == "rgba.bmp":
        Image.fromarray(_pixels(c=4), "RGBA").save(path)
        return path, "pil"
    if kind == "still.gif":
        _palette_image().save(path)
        return path, "gif"
    if kind == "animated.gif":
        frames = [_palette_image(seed) for seed in (0, 1)]
        frames[0].save(path, save_all=True, append_images=frames[1:])
        return path, "gif"
    if kind == "transparent.gif":
        _palette_image().save(path, transparency=3)
        return path, "pil"
    if kind == "grey.pgm":
        Image.fromarray(_pixels(c=1), "L").save(path)
        return path, "pil"
    if kind == "rgb.tif":
        Image.fromarray(_pixels()).save(path)
        return path, "pil"
    if kind == "png_named.jpg":  # the bytes decide, not the extension
        buffer = io.BytesIO()
        Image.fromarray(_pixels()).save(buffer, "PNG")
        path.write_bytes(buffer.getvalue())
        return path, "png_rgb"
    raise AssertionError(kind)


NATIVE = ["rgb.jpg", "progressive.jpg", "grey.jpg", "grey.png", "rgb.png", "interlaced.png",
          "rgba.png", "la.png", "palette.png", "palette_transparent.png", "rgb.bmp",
          "still.gif", "animated.gif", "png_named.jpg"]
PIL_ONLY = ["cmyk.jpg", "sixteen.png", "bilevel.bmp", "rgba.bmp", "transparent.gif",
            "grey.pgm", "rgb.tif"]


@pytest.mark.parametrize("kind", NATIVE + PIL_ONLY)
def test_each_file_gets_its_decoder(tmp_path, kind):
    path, expected = _write(kind, tmp_path)
    assert DECODER_NAMES[sniff(path)] == expected


@pytest.mark.parametrize("kind", NATIVE)
@pytest.mark.parametrize("channels", [3, 1])
def test_native_decoding_matches_pil(tmp_path, kind, channels):
    """Lossless formats agree exactly (luminance to float round-off); JPEG within
    JPEG_TOLERANCE (same ISLOW DCT; other libjpeg-turbo builds may round differently)."""
    path, _ = _write(kind, tmp_path)
    native = load_image(path, channels=channels)
    reference = read_image(path, channels=channels)
    assert native.shape == reference.shape and native.dtype == np.float32
    tolerance = JPEG_TOLERANCE if kind.endswith(".jpg") and "png" not in kind else LUMA_TOLERANCE
    np.testing.assert_allclose(native, reference, rtol=0, atol=tolerance)


def test_bad_files_are_named(tmp_path):
    good, _ = _write("rgb.png", tmp_path)
    source = _write("rgb.jpg", tmp_path)[0].read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(source[: len(source) // 2])
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    not_image = tmp_path / "notes.png"
    not_image.write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    for bad in (truncated, cut_png, not_image):
        assert _decoder(bad) == "pil"  # header or trailer failed: PIL names the file
        frame = pd.DataFrame({"path": [str(good), str(bad)], "label": [0, 1]})
        with pytest.raises(Exception, match=bad.name):
            list(make_dataset(frame, image_size=4))
        with pytest.raises(DatasetError, match=bad.name):
            load_image(bad)
        with pytest.raises(DatasetError, match=bad.name):
            check_decodes([good, bad])
    with pytest.raises(FileNotFoundError, match="gone.jpg"):
        load_image(tmp_path / "gone.jpg")


def test_corrupt_data_inside_a_valid_jpeg(tmp_path):
    """Header and trailer intact, entropy data damaged: both decoders warn and decode
    (libjpeg's recovery), so the pipeline neither fails nor drops the file."""
    path, _ = _write("rgb.jpg", tmp_path)
    data = bytearray(path.read_bytes())
    start = data.index(b"\xff\xda") + 20
    data[start:start + 40] = bytes(40)
    path.write_bytes(bytes(data))
    assert _decoder(path) == "jpeg_rgb"
    assert load_image(path).shape == (12, 10, 3)


def test_junk_markers_inside_a_jpeg_are_named(tmp_path):
    """Junk with stray markers over the middle of a JPEG would stop libjpeg inside the
    graph, where TensorFlow's message cannot name the file: such files go to PIL."""
    good, _ = _write("rgb.png", tmp_path)
    path = tmp_path / "junk.jpg"
    Image.fromarray(_pixels(64, 64)).save(path, quality=90)
    data = bytearray(path.read_bytes())
    start, end = len(data) // 3, 2 * len(data) // 3
    data[start:end] = bytes((i * 97 + 13) % 256 for i in range(end - start))
    path.write_bytes(bytes(data))
    assert _decoder(path) == "pil"
    frame = pd.DataFrame({"path": [str(good), str(path)], "label": [0, 1]})
    with pytest.raises(Exception) as caught:  # noqa: PT011 - TensorFlow wraps PIL's error
        list(make_dataset(frame, image_size=8))
    assert str(path) in str(caught.value).strip().splitlines()[0]


def test_mixed_decoders_keep_frame_order(tmp_path):
    kinds = ["png", "jpg", "pgm", "bmp", "gif", "tif"]
    paths, labels = [], []
    for i in range(24):
        kind = kinds[i % len(kinds)]
        path = tmp_path / f"img_{i:02d}.{kind}"
        h, w = 5 + i % 4, 6 + i % 3  # varied sizes: decode times differ
        value = 10 * i
        mode = "L" if kind == "pgm" else "RGB"
        pixels = np.full((h, w) if mode == "L" else (h, w, 3), value, np.uint8)
        Image.fromarray(pixels, mode).save(path, **({"quality": 100} if kind == "jpg" else {}))
        paths.append(str(path))
        labels.append(i % 5)
    frame = pd.DataFrame({"path": paths, "label": labels})
    assert len({_decoder(p) for p in paths}) >= 4
    images, got = [], []
    for x, y in make_dataset(frame, image_size=(4, 4), batch_size=5):
        images.append(x.numpy())
        got.append(y.numpy())
    images, got = np.concatenate(images), np.concatenate(got)
    np.testing.assert_array_equal(got, labels)
    np.testing.assert_allclose(images[:, 0, 0, 0], 10 * np.arange(24), atol=1.0)


@pytest.mark.parametrize("shape, size", [((37, 53, 3), (16, 20)), ((9, 7, 1), (30, 25)),
                                         ((1, 1, 3), (4, 3)), ((300, 7, 3), (5, 100)),
                                         ((224, 224, 3), (224, 224)), ((533, 400, 3), (224, 224))])
def test_banded_bilinear_matches_tensorflow(shape, size):
    import tensorflow as tf

    image = tf.constant(np.random.default_rng(1).uniform(0, 255, shape).astype(np.float32))
    ours = banded_bilinear_resize(image, size).numpy()
    theirs = tf.image.resize(image, size, antialias=True).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=BILINEAR_TOLERANCE)
    if shape[:2] == size:  # scale 1: exactly the input, both ways
        np.testing.assert_array_equal(ours, image.numpy())
        np.testing.assert_array_equal(resize(image, size, "bilinear").numpy(), image.numpy())


def test_pipeline_equals_load_image_on_the_banded_path(tmp_path):
    jpeg, _ = _write("rgb.jpg", tmp_path)
    Image.fromarray(_pixels(150, 130)).save(jpeg, quality=90)
    pgm = tmp_path / "big.pgm"
    Image.fromarray(_pixels(140, 160, c=1), "L").save(pgm)
    frame = pd.DataFrame({"path": [str(jpeg), str(pgm)], "label": [0, 1]})
    ((batch, _),) = make_dataset(frame, image_size=(112, 100), batch_size=2)
    for row, path in enumerate((jpeg, pgm)):
        np.testing.assert_array_equal(batch.numpy()[row], load_image(path, image_size=(112, 100)))


def test_shared_jpegs_decode_like_pil():
    """The DCT method is the one real difference: TensorFlow's default INTEGER_FAST is
    several levels off PIL on real photos, INTEGER_ACCURATE (used here) matches."""
    import tensorflow as tf

    photos = sorted(shared_path("clothing-small", "train").glob("*/*.jpg"))[:8]
    faces = sorted(shared_path("fer2013-subset", "train").glob("*/*.jpg"))[:8]
    fast_difference = 0.0
    for path in photos + faces:
        assert _decoder(path) in ("jpeg_rgb", "jpeg_grey")
        np.testing.assert_allclose(load_image(path), read_image(path), atol=JPEG_TOLERANCE)
        fast = tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3).numpy()
        fast_difference = max(fast_difference, float(np.abs(fast - read_image(path)).max()))
    assert fast_difference > JPEG_TOLERANCE


def test_sniff_reads_little(tmp_path):
    """Sniffing a file costs its header and trailer, and is cached per (path, size, mtime)."""
    path, _ = _write("rgb.jpg", tmp_path)
    first = sniff(path)
    path.write_bytes(b"garbage")  # new size: sniffed again
    assert sniff(path) != first and _decoder(path) == "pil"


def test_disk_cache_serves_datasets_with_and_without_paths(tmp_path):
    paths = [str(_write(kind, tmp_path)[0]) for kind in ("rgb.png", "grey.pgm", "rgb.jpg")]
    frame = pd.DataFrame({"path": paths, "label": [0, 1, 2]})
    cache = tmp_path / "cache"
    plain = [x.numpy() for x, _ in make_dataset(frame, image_size=6, cache=cache)]
    with_paths = list(make_dataset(frame, image_size=6, cache=cache, include_paths=True))
    assert [p.decode() for p in with_paths[0][2].numpy()] == paths
    np.testing.assert_array_equal(with_paths[0][0].numpy(), plain[0])
