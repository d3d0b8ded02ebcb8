"""Weights files: the wrong architecture, not a weights file, a truncated download, and
ImageNet weights that are not there offline, each named with the backbone and what to do."""

import pytest

from kerasbench.backbones import build_backbone, keras_cache_folder, squeezenet
from kerasbench.backbones.weights import WeightsFileError

SQUEEZENET_FILE = "squeezenet_v1.1_imagenet_notop.h5"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """squeezenet1_0 weights in Keras 3 (.weights.h5), Keras 2 (.h5) and .keras form."""
    folder = tmp_path_factory.mktemp("weights")
    model = squeezenet("1.0", (48, 48, 3))
    model.save_weights(folder / "squeezenet1_0.weights.h5")
    model.save(folder / "squeezenet1_0.h5")
    model.save(folder / "squeezenet1_0.keras")
    return folder


@pytest.mark.parametrize("name", ["squeezenet1_0.weights.h5", "squeezenet1_0.h5",
                                  "squeezenet1_0.keras"])
def test_weights_of_another_architecture_name_file_backbone_and_first_mismatch(saved, name):
    path = saved / name
    with pytest.raises(WeightsFileError) as caught:
        build_backbone("squeezenet1_1", image_size=48, weights=path)
    message = str(caught.value)
    assert str(path) in message and "'squeezenet1_1'" in message
    assert "the model expects 25 layers with weights (50 arrays)" in message
    assert "mismatch" in message and "(3, 3, 3, 64)" in message  # squeezenet1_1's conv1


@pytest.mark.parametrize("name, content", [
    ("weights.h5", b"<html>Access denied</html>"),
    ("weights.weights.h5", b""),
    ("weights.keras", b"not a zip"),
    ("weights.bin", b"\x00" * 64),
])
def test_a_file_that_is_not_weights_is_named(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(WeightsFileError, match=rf"{path} cannot be loaded into backbone "
                                               r"'squeezenet1_1': it is not a weights file"):
        build_backbone("squeezenet1_1", image_size=48, weights=path)


@pytest.mark.parametrize("name", ["squeezenet1_0.weights.h5", "squeezenet1_0.h5",
                                  "squeezenet1_0.keras"])
def test_a_truncated_weights_file_is_named(saved, tmp_path, name):
    path = tmp_path / name
    data = (saved / name).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsFileError, match=rf"{path} cannot be loaded into backbone "
                                               r"'squeezenet1_0': it is a damaged or truncated"):
        build_backbone("squeezenet1_0", image_size=48, weights=path)


def test_weights_for_a_keras_application_are_checked_too(tmp_path, saved):
    with pytest.raises(WeightsFileError, match=r"backbone 'vgg19'.*expects 16 layers"):
        build_backbone("vgg19", image_size=32, weights=saved / "squeezenet1_0.weights.h5")


def test_a_missing_weights_file_is_named(tmp_path):
    path = tmp_path / "nowhere.weights.h5"
    with pytest.raises(FileNotFoundError, match=rf"'squeezenet1_1' not found: {path}"):
        build_backbone("squeezenet1_1", image_size=48, weights=path)


def test_missing_local_imagenet_weights_name_the_file_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("KERASBENCH_WEIGHTS_DIR", str(tmp_path / "attached"))
    folder = keras_cache_folder()
    assert folder == tmp_path / "keras" / "models"
    with pytest.raises(FileNotFoundError, match=rf"{SQUEEZENET_FILE}.*from {folder}, which is "
                                                r"missing.*KERASBENCH_WEIGHTS_DIR="):
        build_backbone("squeezenet1_1", image_size=48, weights="imagenet")


def test_offline_imagenet_download_names_the_file_and_the_folder(tmp_path, monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "get_file", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("KERASBENCH_WEIGHTS_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match=r"'resnet50'.*resnet50_weights_tf_dim_ordering_"
                                                rf"tf_kernels_notop\.h5.*Copy that file into "
                                                rf"{tmp_path / 'keras' / 'models'}"):
        build_backbone("resnet50", image_size=32, weights="imagenet")


def test_a_damaged_cached_imagenet_file_is_named_with_its_folder(tmp_path, monkeypatch):
    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    (cache / SQUEEZENET_FILE).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("KERASBENCH_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsFileError, match=rf"{cache / SQUEEZENET_FILE}.*damaged or truncated"
                                               rf".*Keras's cache folder {cache}"):
        build_backbone("squeezenet1_1", image_size=48, weights="imagenet")


def test_matching_weights_still_load(saved):
    import numpy as np

    model = build_backbone("squeezenet1_0", image_size=48, weights=saved / "squeezenet1_0.h5")
    source = squeezenet("1.0", (48, 48, 3), weights=saved / "squeezenet1_0.weights.h5")
    for loaded, expected in zip(model.get_layer("squeezenet1_0").get_weights(),
                                source.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, expected)
