"""Augmentation in the tf.data pipeline: stateless per-batch seeds, parallel yet reproducible."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kerasbench.pipeline import Augmentation, make_dataset


def _batch(n=16, size=12, seed=0):
    import tensorflow as tf

    values = np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)
    return tf.constant(values)


def _seed(a, b=0):
    import tensorflow as tf

    return tf.constant([a, b], tf.int64)


def test_same_seed_same_images_other_seed_other_images():
    augmentation = Augmentation(rotation_range=20, width_shift_range=0.1, zoom_range=0.1,
                                horizontal_flip=True, brightness_range=[0.8, 1.2],
                                random_resized_crop=True)
    images = _batch()
    first = augmentation.apply_stateless(images, _seed(3)).numpy()
    np.testing.assert_array_equal(first, augmentation.apply_stateless(images, _seed(3)).numpy())
    assert not np.allclose(first, augmentation.apply_stateless(images, _seed(4)).numpy())
    assert first.shape == images.shape and first.min() >= 0 and first.max() <= 255


def test_flips_mirror_whole_images_half_the_time():
    images = _batch(n=64)
    out = Augmentation(horizontal_flip=True).apply_stateless(images, _seed(1)).numpy()
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images.numpy())]
    unchanged = [np.array_equal(o, i) for o, i in zip(out, images.numpy())]
    assert all(m or u for m, u in zip(mirrored, unchanged))
    assert 16 <= sum(mirrored) <= 48
    out = Augmentation(vertical_flip=True).apply_stateless(images, _seed(1)).numpy()
    assert all(np.array_equal(o, i) or np.array_equal(o, i[::-1])
               for o, i in zip(out, images.numpy()))


def test_brightness_is_one_factor_per_image_in_range():
    images = _batch(n=32) * 0.5 + 10.0  # no clipping at 255
    out = Augmentation(brightness_range=[0.5, 1.5]).apply_stateless(images, _seed(2)).numpy()
    factors = out / images.numpy()
    per_image = factors.reshape(32, -1)
    np.testing.assert_allclose(per_image, np.repeat(per_image[:, :1], per_image.shape[1], 1),
                               rtol=1e-5)
    assert 0.5 <= per_image.min() and per_image.max() <= 1.5
    assert per_image[:, 0].std() > 0.1


def test_affine_stateless_uses_the_idg_parameters():
    from kerasbench.pipeline import RandomAffine
    from kerasbench.pipeline.augment_sampling import StatelessDraws

    images = _batch(n=6, size=9)
    augmentation = Augmentation(rotation_range=90, zoom_range=0.2)
    out = augmentation.apply_stateless(images, _seed(5)).numpy()
    (layer,) = augmentation.layers
    assert isinstance(layer, RandomAffine)
    params = layer.get_random_transformation(images, StatelessDraws(_seed(5), 0))
    theta = params["theta"].numpy()
    assert np.all(np.abs(theta) <= 90) and theta.std() > 1
    assert np.all((params["zx"].numpy() >= 0.8) & (params["zx"].numpy() <= 1.2))
    np.testing.assert_array_equal(out, layer.transform_images(images, params).numpy())


def _frame(tmp_path, n=12):
    paths = []
    for i in range(n):
        path = tmp_path / f"{i:02d}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (10, 10, 3), np.uint8)).save(path)
        paths.append(str(path))
    return pd.DataFrame({"path": paths, "label": list(range(n))})


def _epoch(dataset):
    images, labels = [], []
    for x, y in dataset:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


@pytest.mark.parametrize("cache", [None, "memory"])
def test_pipeline_augmentation_is_reproducible_and_fresh_each_epoch(tmp_path, cache):
    frame = _frame(tmp_path)
    augmentation = Augmentation(rotation_range=30, horizontal_flip=True, seed=11)
    kwargs = dict(image_size=10, batch_size=4, augmentation=augmentation, cache=cache)
    dataset = make_dataset(frame, **kwargs)
    first, labels = _epoch(dataset)
    second, labels_again = _epoch(dataset)
    np.testing.assert_array_equal(labels, np.arange(12))
    np.testing.assert_array_equal(labels_again, np.arange(12))
    assert not np.allclose(first, second)  # a new stream every epoch
    rebuilt = make_dataset(frame, **kwargs)
    np.testing.assert_array_equal(_epoch(rebuilt)[0], first)
    np.testing.assert_array_equal(_epoch(rebuilt)[0], second)
    plain, _ = _epoch(make_dataset(frame, image_size=10, batch_size=4))
    assert not np.allclose(first, plain)


def test_pipeline_takes_any_callable_and_image_only_datasets(tmp_path):
    import keras

    frame = _frame(tmp_path, n=6)
    flip = keras.layers.RandomFlip("horizontal", seed=3)
    x, y = _epoch(make_dataset(frame, image_size=10, batch_size=4, augmentation=flip))
    assert x.shape == (6, 10, 10, 3) and list(y) == list(range(6))
    images = list(make_dataset(frame.drop(columns="label"), image_size=10, batch_size=4,
                               label_mode=None, augmentation=Augmentation(vertical_flip=True)))
    assert [tuple(batch.shape) for batch in images] == [(4, 10, 10, 3), (2, 10, 10, 3)]
