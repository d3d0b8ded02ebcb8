"""The backbone registry, its preprocessing layer, and the networks built here."""

import dataclasses
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from conftest import shared_weights

import kerasbench.backbones as backbones_package
from kerasbench.backbones import (
    ImagePreprocessing,
    build_backbone,
    find_backbone,
    get_backbone,
    list_backbones,
    resnet,
    squeezenet,
    stage_assignments,
)
from kerasbench.backbones.registry import _REGISTRY
from kerasbench.backbones.weights import _is_legacy_h5

SQUEEZENET_FILE = "squeezenet_v1.1_imagenet_notop.h5"


def _weight_count(layer) -> int:
    return sum(int(np.prod(weight.shape)) for weight in layer.weights)


@pytest.mark.parametrize("name", list_backbones())
def test_backbone_builds_at_min_size(name):
    spec = get_backbone(name)
    model = build_backbone(name, image_size=spec.min_size)
    assert model.name == f"{name}_backbone"
    assert model.input.shape[1:] == (spec.min_size, spec.min_size, 3)
    assert model.output.shape[-1] == spec.feature_dim
    assert all(size >= 1 for size in model.output.shape[1:3])
    found_spec, backbone_model, base = find_backbone(model)
    assert found_spec is spec and backbone_model is model and base.name == name
    # The preprocessing layer holds constants, not weights.
    assert model.get_layer("preprocessing").weights == []
    assert model.count_params() == base.count_params()

    assignments = stage_assignments(base, spec)
    assert len(assignments) == len(base.layers)
    stages = [stage for _, stage in assignments]
    per_stage = {stage: 0 for stage in range(len(spec.stage_prefixes))}
    for layer, stage in assignments:
        if stage >= 0:
            per_stage[stage] += _weight_count(layer)
    assert all(count > 0 for count in per_stage.values()), per_stage
    assert max(stages) == len(spec.stage_prefixes) - 1


@pytest.mark.parametrize("name", ["xception", "squeezenet1_0", "squeezenet1_1", "resnet18"])
def test_below_min_size_names_backbone_and_min(name):
    spec = get_backbone(name)
    with pytest.raises(ValueError, match=rf"{name}.*at least {spec.min_size}"):
        build_backbone(name, image_size=(spec.min_size - 1, spec.min_size + 10))


def test_registry_lookup():
    assert list_backbones() == sorted(list_backbones())
    assert {
        "xception",
        "efficientnetb6",
        "efficientnetb7",
        "densenet201",
        "inceptionv3",
        "resnet50",
        "vgg19",
        "squeezenet1_0",
        "squeezenet1_1",
        "resnet18",
        "resnet34",
    } == set(list_backbones())
    assert get_backbone("ResNet50") is get_backbone("resnet50")
    with pytest.raises(ValueError) as error:
        get_backbone("resnet101")
    for name in list_backbones():
        assert name in str(error.value)


def test_bad_image_size_and_channels():
    with pytest.raises(ValueError, match="image_size"):
        build_backbone("squeezenet1_1", image_size="large")
    with pytest.raises(ValueError, match="channels"):
        build_backbone("squeezenet1_1", image_size=32, channels=2)


def test_missing_weights_file(tmp_path):
    missing = tmp_path / "absent.weights.h5"
    for name in ("resnet50", "squeezenet1_1", "resnet34"):
        with pytest.raises(FileNotFoundError, match="absent.weights.h5"):
            build_backbone(name, image_size=32, weights=missing)


def test_imagenet_without_download_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=rf"{SQUEEZENET_FILE}.*weights=<path"):
        build_backbone("squeezenet1_1", image_size=32, weights="imagenet")
    with pytest.raises(FileNotFoundError, match=r"resnet34.*weights=<path"):
        build_backbone("resnet34", image_size=32, weights="imagenet")


def test_failed_imagenet_download_names_file_and_folder(tmp_path, monkeypatch):
    # Stands in for keras.applications failing offline, without touching the network.
    def offline(**_):
        raise Exception("URL fetch failure on https://example.invalid: Name or service not known")

    spec = get_backbone("resnet50")
    monkeypatch.setitem(
        _REGISTRY, "resnet50", dataclasses.replace(spec, constructor=offline)
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        build_backbone("resnet50", image_size=32, weights="imagenet")
    message = str(error.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "models") in message
    assert "weights=<path" in message


@pytest.mark.parametrize(
    "mode, module",
    [
        ("caffe", "resnet50"),
        ("caffe", "vgg19"),
        ("tf", "xception"),
        ("tf", "inception_v3"),
        ("torch", "densenet"),
        ("none", "efficientnet"),
    ],
)
def test_preprocessing_matches_keras(mode, module):
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, size=(2, 5, 7, 3)).astype("float32")
    expected = getattr(keras.applications, module).preprocess_input(pixels.copy())
    actual = keras.ops.convert_to_numpy(ImagePreprocessing(mode)(pixels))
    np.testing.assert_allclose(actual, np.asarray(expected), rtol=0, atol=1e-6)


def test_preprocessing_layer_is_weightless_and_grey_becomes_rgb():
    layer = ImagePreprocessing("caffe")
    grey = np.full((1, 4, 4, 1), 100.0, dtype="float32")
    out = keras.ops.convert_to_numpy(layer(grey))
    assert out.shape == (1, 4, 4, 3)
    np.testing.assert_allclose(
        out[0, 0, 0], 100.0 - np.array([103.939, 116.779, 123.68]), rtol=1e-6
    )
    assert layer.weights == [] and layer.count_params() == 0
    assert ImagePreprocessing.from_config(layer.get_config()).mode == "caffe"
    with pytest.raises(ValueError, match="caffe"):
        ImagePreprocessing("imagenet")


def test_grey_input_equals_repeated_rgb():
    rgb_model = build_backbone("squeezenet1_1", image_size=32)
    grey_model = build_backbone("squeezenet1_1", image_size=32, channels=1)
    grey_model.set_weights(rgb_model.get_weights())
    grey = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(
        grey_model.predict(grey, verbose=0),
        rgb_model.predict(np.repeat(grey, 3, axis=-1), verbose=0),
        rtol=1e-5,
        atol=1e-5,
    )


def test_resnet_parameter_counts_and_names():
    resnet34 = resnet(34, (32, 32, 3))
    resnet18 = resnet(18, (32, 32, 3))
    assert resnet34.count_params() == 21_301_696
    assert resnet18.count_params() == 11_186_112
    for name in (
        "conv1_conv",
        "conv1_bn",
        "conv2_block1_1_conv",
        "conv3_block1_0_conv",
        "conv5_block3_out",
    ):
        resnet34.get_layer(name)
    assert resnet18.get_layer("conv5_block2_out") is resnet18.layers[-1]
    assert not any(layer.name.startswith("conv2_block1_0") for layer in resnet34.layers)
    with pytest.raises(ValueError, match="depth"):
        resnet(50, (32, 32, 3))


def test_squeezenet_matches_keras_squeezenet_shapes():
    model = squeezenet("1.1", (224, 224, 3))
    assert model.count_params() == 722_496
    assert model.output.shape[1:] == (13, 13, 512)
    assert model.get_layer("fire2_squeeze1x1").kernel.shape == (1, 1, 64, 16)
    assert squeezenet("1.0", (227, 227, 3)).output.shape[1:] == (13, 13, 512)
    with pytest.raises(ValueError, match="version"):
        squeezenet("2.0", (224, 224, 3))


def test_squeezenet_1_1_loads_shared_weights():
    path = shared_weights(SQUEEZENET_FILE)
    random_model = build_backbone("squeezenet1_1", image_size=64)
    model = build_backbone("squeezenet1_1", image_size=64, weights=path)
    base = model.get_layer("squeezenet1_1")
    with h5py.File(path, "r") as handle:
        for saved_name in ("conv1", "fire2/squeeze1x1", "fire5/expand3x3", "fire9/expand1x1"):
            group = handle[saved_name]
            saved = [np.asarray(group[n]) for n in group.attrs["weight_names"]]
            layer = base.get_layer(saved_name.replace("/", "_"))
            for loaded, array in zip(layer.get_weights(), saved, strict=True):
                np.testing.assert_array_equal(loaded, array)
            random_layer = random_model.get_layer("squeezenet1_1").get_layer(layer.name)
            assert not np.allclose(random_layer.get_weights()[0], saved[0])


def test_squeezenet_imagenet_reads_keras_cache(tmp_path, monkeypatch):
    path = shared_weights(SQUEEZENET_FILE)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / SQUEEZENET_FILE).symlink_to(path)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    model = build_backbone("squeezenet1_1", image_size=32, weights="imagenet")
    reference = squeezenet("1.1", (32, 32, 3), weights=path)
    for loaded, expected in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(loaded, expected)


def test_weights_that_do_not_fit_raise_clearly():
    path = shared_weights(SQUEEZENET_FILE)
    with pytest.raises(ValueError, match=r"conv1.*\(7, 7, 3, 96\)"):
        build_backbone("squeezenet1_0", image_size=64, weights=path)
    with pytest.raises(ValueError, match="no weights for"):
        resnet(18, (32, 32, 3), weights=path)


def test_weight_files_round_trip(tmp_path):
    # A Keras 3 .weights.h5 (by topology) and a Keras 2 style .h5 (by layer name).
    source = squeezenet("1.0", (64, 64, 3))
    source.save_weights(tmp_path / "squeezenet.weights.h5")
    legacy = tmp_path / "squeezenet.h5"
    source.save(legacy)
    assert _is_legacy_h5(legacy)
    for path in (tmp_path / "squeezenet.weights.h5", legacy):
        model = build_backbone("squeezenet1_0", image_size=64, weights=path)
        for loaded, expected in zip(model.get_weights(), source.get_weights(), strict=True):
            np.testing.assert_array_equal(loaded, expected)


# Every name the former modules kerasbench.backbones and kerasbench.architectures exported.
FORMER_PUBLIC_NAMES = (
    "PREPROCESSING_MODES ImagePreprocessing KerasApplication BackboneSpec list_backbones "
    "get_backbone resolve_image_size keras_cache_folder build_base build_backbone "
    "find_backbone stage_assignments SQUEEZENET_VERSIONS RESNET_DEPTHS RESNET_STAGE_FILTERS "
    "SQUEEZENET_MIN_SIZE RESNET_MIN_SIZE squeezenet squeezenet1_0 squeezenet1_1 resnet "
    "resnet18 resnet34 load_weights_file load_legacy_h5_weights"
).split()


def test_package_re_exports_the_former_modules_names():
    for name in FORMER_PUBLIC_NAMES:
        assert hasattr(backbones_package, name), name
    assert set(FORMER_PUBLIC_NAMES) == set(backbones_package.__all__)
    assert backbones_package._REGISTRY is _REGISTRY
    assert callable(backbones_package.resnet) and callable(backbones_package.squeezenet)
    spec = get_backbone("resnet34")
    assert spec.constructor is backbones_package.resnet34
    assert ImagePreprocessing.__module__ == "kerasbench.backbones.preprocessing"
    assert keras.saving.get_registered_name(ImagePreprocessing) == "kerasbench>ImagePreprocessing"


def test_backbone_modules_are_small_and_use_public_keras_only():
    folder = Path(backbones_package.__file__).parent
    for path in sorted(folder.glob("*.py")):
        text = path.read_text()
        assert len(text.splitlines()) <= 450, path.name
        assert "keras.src" not in text, path.name


def test_saved_backbone_loads_back(tmp_path):
    model = build_backbone("squeezenet1_1", image_size=32)
    model.save(tmp_path / "backbone.keras")
    loaded = keras.saving.load_model(tmp_path / "backbone.keras")
    assert loaded.get_layer("preprocessing").mode == "caffe"
    pixels = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        loaded.predict(pixels, verbose=0), model.predict(pixels, verbose=0), rtol=1e-6, atol=1e-6
    )
