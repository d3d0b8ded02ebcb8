"""Augmentation: IDG names with IDG meanings, checked against hand-computed expectations."""

import json
import math

import keras
import numpy as np
import pytest

from kerasbench.pipeline import (
    Augmentation,
    RandomAffine,
    RandomBrightnessScale,
    RandomResizedCrop,
    augmentation_from_config,
    legacy_image_data_generator,
)


def _image(h=9, w=9, c=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (h, w, c)).astype(np.float32)


def _affine(images, fill_mode="nearest", interpolation="nearest", cval=0.0, **params):
    layer = RandomAffine(fill_mode=fill_mode, interpolation=interpolation, cval=cval)
    return np.asarray(layer.transform_images(images, params))


def _reference_affine(x, theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0):
    """Nearest-neighbour IDG transform written out by hand (edge pixels repeated)."""
    h, w = x.shape[:2]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    t, s = math.radians(theta), math.radians(shear)
    out = np.empty_like(x)
    for r in range(h):
        for c in range(w):
            ox, oy = c - cx, r - cy
            # zoom, then shear, then shift, then rotation: IDG's rotation.shift.shear.zoom
            px, py = zx * ox, zy * oy
            px, py = px - math.sin(s) * py, math.cos(s) * py
            px, py = px + tx, py + ty
            px, py = math.cos(t) * px - math.sin(t) * py, math.sin(t) * px + math.cos(t) * py
            ic = min(max(int(np.floor(px + cx + 0.5)), 0), w - 1)
            ir = min(max(int(np.floor(py + cy + 0.5)), 0), h - 1)
            out[r, c] = x[ir, ic]
    return out


# --------------------------------------------------------------------------- identity


def test_zero_ranges_are_identity_and_skipped():
    aug = Augmentation(
        rotation_range=0,
        width_shift_range=0.0,
        height_shift_range=0.0,
        shear_range=0.0,
        zoom_range=0.0,
        horizontal_flip=False,
        vertical_flip=False,
        brightness_range=[1.0, 1.0],
    )
    assert aug.is_identity and aug.layers == []
    assert Augmentation().is_identity
    x = _image()[None]
    assert aug(x, training=True) is x
    assert aug.describe() == ["(no augmentation) -> identity"]


def test_zero_range_layers_are_exact_identity():
    x = _image(8, 10)[None]
    for layer in (RandomAffine(), RandomBrightnessScale((1.0, 1.0))):
        assert layer.is_identity
        np.testing.assert_array_equal(np.asarray(layer(x, training=True)), x)
    # The sampled-but-zero path (a transform with identity parameters) is exact too.
    np.testing.assert_array_equal(_affine(x, interpolation="bilinear"), x)


# --------------------------------------------------------------------------- affine vs IDG


@pytest.mark.parametrize("size", [(9, 9), (8, 8)])
def test_rotation_90_is_counter_clockwise_like_np_rot90(size):
    x = _image(*size)
    for interpolation in ("nearest", "bilinear"):
        out = _affine(x, interpolation=interpolation, theta=90.0)
        np.testing.assert_allclose(out, np.rot90(x, 1), atol=1e-3)
        out = _affine(x, interpolation=interpolation, theta=-90.0)
        np.testing.assert_allclose(out, np.rot90(x, -1), atol=1e-3)


def test_rotation_uses_true_centre_of_non_square_images():
    x = _image(6, 10)
    np.testing.assert_allclose(_affine(x, theta=180.0), np.rot90(x, 2), atol=1e-3)


def test_shift_moves_content_by_pixels_along_named_axis():
    x = _image(8, 12)
    out = _affine(x, tx=3.0)  # output(c) = input(c + 3): content moves 3 px left
    np.testing.assert_array_equal(out[:, :-3], x[:, 3:])
    out = _affine(x, ty=-2.0)  # content moves 2 px down
    np.testing.assert_array_equal(out[2:], x[:-2])


def _detect_shift(out, x, axis, limit):
    size = x.shape[axis]
    for s in range(-limit, limit + 1):
        a = np.take(out, range(max(0, -s), size - max(0, s)), axis=axis)
        b = np.take(x, range(max(0, s), size - max(0, -s)), axis=axis)
        if np.array_equal(a, b):
            return s
    return None


def test_width_shift_range_is_a_fraction_of_width_horizontal_only():
    x = _image(8, 16, seed=3)
    batch = np.repeat(x[None], 24, axis=0)
    layer = RandomAffine(width_shift_range=0.25, interpolation="nearest", seed=4)
    out = np.asarray(layer(batch, training=True))
    shifts = [_detect_shift(o, x, axis=1, limit=4) for o in out]
    assert None not in shifts, "each image must be a pure horizontal shift of <= 0.25 * 16 px"
    assert len(set(shifts)) >= 4 and max(map(abs, shifts)) >= 3

    layer = RandomAffine(height_shift_range=0.25, interpolation="nearest", seed=4)
    out = np.asarray(layer(np.repeat(_image(16, 8)[None], 24, axis=0), training=True))
    shifts = [_detect_shift(o, _image(16, 8), axis=0, limit=4) for o in out]
    assert None not in shifts and len(set(shifts)) >= 4


@pytest.mark.parametrize(
    "params",
    [
        {"theta": 23.0},
        {"shear": 33.0},  # not 30: sin(30°) = 0.5 lands samples on rounding ties
        {"zx": 1.4, "zy": 0.7},
        {"theta": -15.0, "tx": 1.5, "ty": -2.0, "shear": 12.0, "zx": 1.1, "zy": 0.9},
    ],
)
def test_composed_transform_matches_hand_computed_idg_formula(params):
    x = _image(11, 11, c=1, seed=5)
    np.testing.assert_array_equal(_affine(x, **params), _reference_affine(x, **params))


def test_matches_legacy_image_data_generator_when_available():
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("scipy")
    try:
        legacy = tf.keras.preprocessing.image.apply_affine_transform
    except AttributeError:
        pytest.skip("this TensorFlow has no legacy apply_affine_transform")
    x = _image(13, 13, seed=6)
    params = {"theta": 20.0, "tx": 2.0, "ty": -1.0, "shear": 10.0, "zx": 1.1, "zy": 0.9}
    for order, interpolation in ((0, "nearest"), (1, "bilinear")):
        for fill in ("nearest", "reflect"):
            ref = legacy(
                x.astype(np.float64),
                **params,
                row_axis=0,
                col_axis=1,
                channel_axis=2,
                order=order,
                fill_mode=fill,
            )
            ours = _affine(x, fill_mode=fill, interpolation=interpolation, **params)
            np.testing.assert_allclose(ours, ref, atol=1e-2)


def test_shear_range_is_degrees_not_a_fraction():
    x = _image(32, 32, seed=7)
    batch = np.repeat(x[None], 8, axis=0)
    # IDG's shear_range=0.2 means 0.2 degrees: at most 0.06 px of displacement here.
    ours = np.asarray(RandomAffine(shear_range=0.2, seed=1)(batch, training=True))
    assert np.abs(ours - batch).max() < 0.1 * 255
    # keras.layers.RandomShear(0.2) reads 0.2 as a fraction: a much stronger transform.
    theirs = np.asarray(keras.layers.RandomShear(x_factor=0.2, seed=1)(batch, training=True))
    assert np.abs(theirs - batch).mean() > 10 * np.abs(ours - batch).mean()
    # 45 degrees of shear: a row k rows below the centre samples sin(45°)·k columns left.
    out = _affine(x, fill_mode="nearest", shear=45.0)
    np.testing.assert_array_equal(out, _reference_affine(x, shear=45.0))


def test_zoom_above_one_zooms_out():
    x = _image(9, 9, seed=8)
    out = _affine(x, fill_mode="constant", cval=-1.0, zx=2.0, zy=2.0)
    # Output pixel centre+k samples input centre+2k: the image shrinks, borders are filled.
    np.testing.assert_array_equal(out[2:7, 2:7], x[0:9:2, 0:9:2])
    assert (out[0] == -1).all() and (out[:, -1] == -1).all()
    assert Augmentation(zoom_range=0.2).zoom_range == (0.8, 1.2)
    assert Augmentation(zoom_range=[0.5, 0.9]).zoom_range == (0.5, 0.9)


def test_zoom_axes_are_sampled_independently():
    layer = RandomAffine(zoom_range=(0.5, 1.5), seed=3)
    params = layer.get_random_transformation(np.zeros((64, 4, 4, 1), np.float32))
    zx, zy = np.asarray(params["zx"]), np.asarray(params["zy"])
    assert zx.min() >= 0.5 and zx.max() <= 1.5 and not np.allclose(zx, zy)


# --------------------------------------------------------------------------- other layers


def test_horizontal_flip_mirrors_left_right():
    x = _image(6, 7, seed=9)
    batch = np.repeat(x[None], 32, axis=0)
    out = np.asarray(Augmentation(horizontal_flip=True, seed=2)(batch))
    flipped = [np.array_equal(o, x[:, ::-1]) for o in out]
    kept = [np.array_equal(o, x) for o in out]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    out = np.asarray(Augmentation(vertical_flip=True, seed=2)(batch))
    assert all(np.array_equal(o, x) or np.array_equal(o, x[::-1]) for o in out)
    assert any(np.array_equal(o, x[::-1]) for o in out)


def test_brightness_multiplies_and_clips():
    x = np.random.default_rng(1).uniform(1, 100, (16, 5, 5, 3)).astype(np.float32)
    out = np.asarray(RandomBrightnessScale((0.5, 1.5), seed=1)(x, training=True))
    factors = (out / x).reshape(16, -1)
    np.testing.assert_allclose(factors, factors[:, :1].repeat(factors.shape[1], 1), rtol=1e-5)
    assert factors.min() >= 0.5 and factors.max() <= 1.5 and factors.std() > 0.05
    bright = np.full((4, 2, 2, 1), 250.0, np.float32)
    out = np.asarray(RandomBrightnessScale((1.5, 1.5))(bright, training=True))
    np.testing.assert_array_equal(out, 255.0)


def test_random_resized_crop_keeps_size_and_crops():
    x = np.random.default_rng(2).uniform(0, 255, (4, 20, 30, 3)).astype(np.float32)
    out = np.asarray(RandomResizedCrop(seed=1)(x, training=True))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 255
    assert not np.allclose(out, x)
    # The whole image at its own aspect ratio is the identity crop.
    same = np.asarray(RandomResizedCrop(scale=(1, 1), ratio=(1.5, 1.5))(x, training=True))
    np.testing.assert_allclose(same, x, atol=1e-3)
    # Ratio 1 cannot fit the whole 20x30 area: torchvision falls back to a centre crop.
    tf = pytest.importorskip("tensorflow")
    centre = np.asarray(RandomResizedCrop(scale=(1, 1), ratio=(1, 1))(x, training=True))
    boxes = np.tile([[0.0, 5 / 29, 1.0, 24 / 29]], (4, 1)).astype(np.float32)
    expected = tf.image.crop_and_resize(x, boxes, np.arange(4), (20, 30)).numpy()
    np.testing.assert_allclose(centre, expected, atol=1e-2)


# --------------------------------------------------------------------------- behaviour


def test_layers_act_only_in_training():
    x = _image(12, 12)[None].repeat(4, axis=0)
    aug = Augmentation(
        rotation_range=30,
        width_shift_range=0.2,
        shear_range=10,
        zoom_range=0.2,
        horizontal_flip=True,
        vertical_flip=True,
        brightness_range=[0.5, 1.5],
        random_resized_crop=True,
        seed=3,
    )
    assert len(aug.layers) == 4
    assert aug(x, training=False) is x
    for layer in aug.layers:
        np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    model = aug.as_sequential()
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), x)
    assert not np.allclose(np.asarray(model(x, training=True)), x)


def test_seed_makes_augmentation_reproducible():
    x = _image(10, 10)[None].repeat(6, axis=0)
    settings = dict(
        rotation_range=20,
        zoom_range=0.2,
        horizontal_flip=True,
        brightness_range=[0.8, 1.2],
        random_resized_crop=True,
    )
    a = np.asarray(Augmentation(seed=11, **settings)(x))
    b = np.asarray(Augmentation(seed=11, **settings)(x))
    c = np.asarray(Augmentation(seed=12, **settings)(x))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("rescale", 1 / 255, "normalise"),
        ("featurewise_center", True, "model"),
        ("samplewise_std_normalization", True, "normalise"),
        ("zca_whitening", True, "ZCA"),
        ("channel_shift_range", 10.0, "channel_shift_range"),
        ("preprocessing_function", lambda x: x, "preprocessing"),
        ("validation_split", 0.2, "splits"),
        ("data_format", "channels_first", "channels_last"),
        ("dtype", "float16", "float32"),
    ],
)
def test_refused_idg_arguments_raise_with_reason(name, value, reason):
    with pytest.raises(ValueError, match=name) as info:
        Augmentation.from_image_data_generator(**{name: value})
    assert reason in str(info.value)


def test_refused_arguments_at_idg_default_are_accepted():
    aug = Augmentation(
        rescale=None,
        data_format=None,
        dtype="float32",
        featurewise_center=False,
        channel_shift_range=0.0,
        validation_split=0.0,
        rotation_range=5,
    )
    assert not aug.is_identity


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rotation_rang": 10}, "supported: rotation_range"),
        ({"width_shift_range": 5}, "pixels"),
        ({"height_shift_range": 1.5}, "fraction"),
        ({"width_shift_range": [-2, 2]}, "list form"),
        ({"rotation_range": -1}, ">= 0"),
        ({"zoom_range": [1.2, 0.8]}, "low <= high"),
        ({"zoom_range": 1.0}, "> 0"),
        ({"brightness_range": 0.5}, "pair"),
        ({"fill_mode": "mirror"}, "fill_mode"),
        ({"interpolation_order": 3}, "interpolation_order"),
        ({"horizontal_flip": "yes"}, "horizontal_flip"),
        ({"random_resized_crop": {"size": 3}}, "unknown"),
        ({"random_resized_crop": {"scale": (0.0, 1.0)}}, "> 0"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Augmentation(**kwargs)


def test_config_round_trip_and_description():
    aug = Augmentation(
        rotation_range=15,
        width_shift_range=0.15,
        height_shift_range=0.15,
        shear_range=0.15,
        zoom_range=0.15,
        horizontal_flip=True,
        random_resized_crop={"scale": (0.5, 1.0)},
        seed=4,
    )
    config = json.loads(json.dumps(aug.to_config()))
    assert augmentation_from_config(config).to_config() == config
    assert augmentation_from_config(None) is None
    text = "\n".join(aug.describe())
    for name in (
        "rotation_range",
        "width_shift_range",
        "height_shift_range",
        "shear_range",
        "zoom_range",
        "horizontal_flip",
        "random_resized_crop",
    ):
        assert f"{name}" in text
    assert "DEGREES" in text and "RandomFlip" in text and "RandomAffine" in text


def test_layers_save_and_load(tmp_path):
    aug = Augmentation(
        rotation_range=10,
        brightness_range=[0.9, 1.1],
        random_resized_crop=True,
        horizontal_flip=True,
        seed=1,
    )
    model = keras.Sequential([keras.Input((8, 8, 3)), *aug.layers])
    path = tmp_path / "aug.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == [
        "RandomResizedCrop",
        "RandomAffine",
        "RandomFlip",
        "RandomBrightnessScale",
    ]
    assert loaded.layers[1].get_config()["rotation_range"] == 10.0


def test_legacy_generator_is_available_or_says_why():
    try:
        generator = legacy_image_data_generator(rotation_range=10)
    except ImportError as error:
        assert "Augmentation" in str(error)
    else:
        assert type(generator).__name__ == "ImageDataGenerator"


# --------------------------------------------------------------------------- XLA


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("fill_mode", ["nearest", "constant", "reflect", "wrap"])
def test_gather_sampler_matches_tensorflow_kernel(interpolation, fill_mode):
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 255, (5, 9, 12, 2)).astype(np.float32)
    params = {
        "theta": rng.uniform(-60, 60, 5),
        "tx": rng.uniform(-6, 6, 5),
        "ty": rng.uniform(-6, 6, 5),
        "shear": rng.uniform(-20, 20, 5),
        "zx": rng.uniform(0.5, 1.8, 5),
        "zy": rng.uniform(0.5, 1.8, 5),
    }
    outputs = [
        np.asarray(
            RandomAffine(
                fill_mode=fill_mode, interpolation=interpolation, cval=-3.0, xla_compatible=flag
            ).transform_images(x, params)
        )
        for flag in (False, True)
    ]
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-3)


def test_xla_compatible_layers_compile_under_jit():
    tf = pytest.importorskip("tensorflow")
    aug = Augmentation(
        rotation_range=15, zoom_range=0.1, horizontal_flip=True, random_resized_crop=True, seed=2
    )
    assert not any(layer.supports_jit for layer in aug.as_sequential().layers[:2])
    model = aug.as_sequential(xla_compatible=True)
    assert all(layer.supports_jit for layer in model.layers)
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    native = np.asarray(aug.as_sequential()(x, training=True))
    gathered = np.asarray(
        Augmentation(**aug.to_config()).as_sequential(xla_compatible=True)(x, training=True)
    )
    np.testing.assert_allclose(gathered, native, atol=1e-3)
    compiled = tf.function(lambda t: model(t, training=True), jit_compile=True)
    out = compiled(tf.constant(x)).numpy()
    assert out.shape == x.shape and np.isfinite(out).all()
