"""Caches and saved artefacts: a damaged feature-cache entry is named and computed again;
a damaged saved verifier is named with the step that writes it; writes are atomic; the
cache key follows the files (and, opted in, their bytes)."""

import json
import os

import numpy as np
import pytest
import robustness_helpers

from kerasbench.engine import feature_cache as feature_cache_module
from kerasbench.engine.feature_cache import FeatureCache
from kerasbench.engine.feature_keys import (
    FEATURE_FORMAT_VERSION,
    feature_key,
    feature_key_inputs,
)


@pytest.fixture
def helpers():
    return robustness_helpers


BACKBONE = "squeezenet1_1"
SIZE = 32


def _fake_outputs(models, frame, *, image_size, batch_size=64, interpolation="bilinear"):
    """Features from each file's bytes: no backbone, but they change when a file does."""
    features = np.stack([
        np.frombuffer(open(path, "rb").read()[-16:].ljust(16, b"\0"), dtype=np.uint8)
        .astype(np.float32) for path in frame["path"]])
    labels = frame["label"].to_numpy().astype(np.int64) if "label" in frame else None
    return [features] * len(models), labels, [0.0] * len(models)


@pytest.fixture
def fake_backbone(monkeypatch):
    calls = []

    def outputs(*args, **kwargs):
        calls.append(len(args[1]))
        return _fake_outputs(*args, **kwargs)

    monkeypatch.setattr(feature_cache_module, "ordered_outputs_shared", outputs)
    monkeypatch.setattr(FeatureCache, "extractor", lambda self, *a, **k: "fake extractor")
    return calls


@pytest.fixture
def frames(tmp_path, helpers):
    from kerasbench.data.index import index_folder

    root = helpers.tree(tmp_path / "data", {"cat": 3, "dog": 3})
    index = index_folder(root, validation_fraction=0, test_fraction=0.5)
    return {"train": index.split("train"), "test": index.split("test")}


def _features(folder, frames, **options):
    cache = FeatureCache(folder, verbose=False, batch_size=8, **options)
    return cache, cache.features(BACKBONE, weights=None, image_size=SIZE, frames=frames, seed=1)


# --------------------------------------------------------------------------- feature cache


def _damage_npz(path, how):
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(b"not an npz file at all")
    elif how == "no_labels":
        with np.load(path) as arrays:
            features = arrays["features"]
        np.savez(path.with_suffix(""), features=features)  # np.savez adds .npz
    elif how == "wrong_labels":
        with np.load(path) as arrays:
            features, labels = arrays["features"], arrays["labels"]
        np.savez(path.with_suffix(""), features=features, labels=1 - labels)
    elif how == "missing":
        path.unlink()


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "no_labels", "wrong_labels",
                                 "missing"])
def test_a_damaged_feature_array_is_named_and_computed_again(tmp_path, frames, fake_backbone,
                                                             capsys, how):
    _, first = _features(tmp_path / "cache", frames)
    damaged = first["test"].path
    _damage_npz(damaged, how)
    capsys.readouterr()
    cache, again = _features(tmp_path / "cache", frames)
    assert cache.misses == 1 and cache.hits == 1
    assert f"ignoring unreadable cache entry {damaged}" in capsys.readouterr().out
    np.testing.assert_array_equal(again["test"].features, first["test"].features)
    np.testing.assert_array_equal(again["test"].labels, frames["test"]["label"].to_numpy())
    # The entry was written again: a third run reads it.
    third, _ = _features(tmp_path / "cache", frames)
    assert third.hits == 2 and third.misses == 0


@pytest.mark.parametrize("how", ["truncated", "not_an_object", "other_key", "binary"])
def test_a_damaged_meta_file_is_named_and_computed_again(tmp_path, frames, fake_backbone,
                                                         capsys, how):
    _, first = _features(tmp_path / "cache", frames)
    meta = first["train"].path.with_suffix(".json")
    text = meta.read_text()
    if how == "truncated":
        meta.write_text(text[: len(text) // 2])
    elif how == "not_an_object":
        meta.write_text(json.dumps([1, 2, 3]))
    elif how == "other_key":
        meta.write_text(json.dumps({**json.loads(text), "key": "0" * 24}))
    else:
        meta.write_bytes(b"\xff\xfe\x00\x01")
    capsys.readouterr()
    cache, again = _features(tmp_path / "cache", frames)
    assert cache.misses == 1
    assert f"ignoring unreadable cache entry {meta}" in capsys.readouterr().out
    np.testing.assert_array_equal(again["train"].features, first["train"].features)
    assert json.loads(meta.read_text())["key"] == first["train"].key


def test_recovered_entries_are_listed(tmp_path, frames, fake_backbone, capsys):
    _, first = _features(tmp_path / "cache", frames)
    first["test"].path.write_bytes(b"")
    cache, _ = _features(tmp_path / "cache", frames)
    assert cache.recovered == [first["test"].path]


def test_a_killed_cache_write_leaves_no_entry(tmp_path, frames, fake_backbone, monkeypatch):
    def killed(stream, **arrays):
        stream.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        _features(tmp_path / "cache", frames)
    assert os.listdir(tmp_path / "cache") == []
    monkeypatch.undo()
    monkeypatch.setattr(feature_cache_module, "ordered_outputs_shared", _fake_outputs)
    monkeypatch.setattr(FeatureCache, "extractor", lambda self, *a, **k: "fake extractor")
    cache, _ = _features(tmp_path / "cache", frames)
    assert cache.misses == 2


def test_a_truncated_entry_is_recomputed_with_a_real_backbone(tmp_path, frames, capsys):
    small = {"test": frames["test"]}
    _, first = _features(tmp_path / "cache", small)
    helpers_path = first["test"].path
    data = helpers_path.read_bytes()
    helpers_path.write_bytes(data[: len(data) // 3])
    cache, again = _features(tmp_path / "cache", small)
    assert cache.misses == 1 and str(helpers_path) in capsys.readouterr().out
    np.testing.assert_allclose(again["test"].features, first["test"].features, rtol=1e-5,
                               atol=1e-5)


# --------------------------------------------------------------------------- cache identity


def _key(frame, **options):
    return feature_key(BACKBONE, weights=None, image_size=SIZE, frame=frame, seed=1, **options)


def _rewrite_keeping_size_and_mtime(path):
    stat = os.stat(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size


def test_default_key_is_unchanged_by_the_content_hash_option(frames):
    inputs = feature_key_inputs(BACKBONE, weights=None, image_size=SIZE, frame=frames["test"],
                                seed=1)
    assert FEATURE_FORMAT_VERSION == 1
    assert sorted(inputs) == sorted([
        "format", "backbone", "weights", "image_size", "channels", "interpolation",
        "preprocessing", "pooling", "compute", "keras", "rows", "index"])
    assert _key(frames["test"]) == _key(frames["test"], content_hash=False)


@pytest.mark.parametrize("change", ["touch", "size", "rename", "same_size_same_mtime"])
def test_key_follows_file_list_sizes_mtimes_and_opt_in_content(frames, tmp_path, change):
    frame = frames["test"].copy()
    path = tmp_path / "data" / "cat" / "img0.png"
    frame.loc[0, "path"] = str(path)
    plain, hashed = _key(frame), _key(frame, content_hash=True)
    assert plain != hashed
    if change == "touch":
        stat = os.stat(path)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    elif change == "size":
        with open(path, "ab") as stream:
            stream.write(b"\0")
    elif change == "rename":
        path.rename(path.with_name("renamed.png"))
        frame.loc[0, "path"] = str(path.with_name("renamed.png"))
    else:
        _rewrite_keeping_size_and_mtime(path)
    assert _key(frame, content_hash=True) != hashed
    # Only the content hash sees a same-size rewrite that kept its modification time.
    assert (_key(frame) == plain) == (change == "same_size_same_mtime")


def test_content_hash_is_opt_in_by_argument_or_environment(tmp_path, frames, fake_backbone,
                                                           monkeypatch):
    monkeypatch.delenv("KERASBENCH_CONTENT_HASH", raising=False)
    assert FeatureCache(tmp_path / "a", verbose=False).content_hash is False
    monkeypatch.setenv("KERASBENCH_CONTENT_HASH", "1")
    cache = FeatureCache(tmp_path / "a", verbose=False)
    assert cache.content_hash is True
    path = tmp_path / "data" / "dog" / "img1.png"
    frame = {"test": frames["test"].assign(path=[str(path)] * len(frames["test"]))}
    cache.features(BACKBONE, weights=None, image_size=SIZE, frames=frame, seed=1)
    _rewrite_keeping_size_and_mtime(path)
    again = FeatureCache(tmp_path / "a", verbose=False, content_hash=True)
    again.features(BACKBONE, weights=None, image_size=SIZE, frames=frame, seed=1)
    assert again.misses == 1  # the stale entry is not served
    plain = FeatureCache(tmp_path / "b", verbose=False, content_hash=False)
    assert plain.content_hash is False


# --------------------------------------------------------------------------- saved verifier


def _verifier():
    import keras

    from kerasbench.siamese.verifier import FaceVerifier

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(4, kernel_initializer=keras.initializers.GlorotUniform(seed=1))(x)
    outputs = keras.layers.UnitNormalization()(x)
    return FaceVerifier(keras.Model(inputs, outputs), 0.7, metadata={"run": "toy"})


@pytest.fixture
def saved_verifier(tmp_path):
    folder = tmp_path / "verifier"
    _verifier().save(folder)
    return folder


@pytest.mark.parametrize("how", ["truncated", "not_json", "empty", "wrong_format", "no_threshold"])
def test_a_damaged_verifier_json_names_the_file_and_the_step(saved_verifier, how):
    from kerasbench.siamese.verifier import FaceVerifier

    path = saved_verifier / "verifier.json"
    text = path.read_text()
    if how == "truncated":
        path.write_text(text[: len(text) // 2])
    elif how == "not_json":
        path.write_bytes(b"\x00\xff binary")
    elif how == "empty":
        path.write_text("")
    elif how == "wrong_format":
        path.write_text(json.dumps({**json.loads(text), "format": 99}))
    else:
        payload = json.loads(text)
        payload["threshold"] = "0.7?"
        path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match=rf"{path}.*FaceVerifier\.save"):
        FaceVerifier.load(saved_verifier)


@pytest.mark.parametrize("how", ["truncated", "not_a_model", "empty"])
def test_a_damaged_embedding_model_names_the_file_and_the_step(saved_verifier, how):
    from kerasbench.siamese.verifier import FaceVerifier

    path = saved_verifier / "embedding.keras"
    if how == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "not_a_model":
        path.write_text("this is not a keras archive")
    else:
        path.write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{path} cannot be loaded.*FaceVerifier\.save"):
        FaceVerifier.load(saved_verifier)


@pytest.mark.parametrize("name", ["verifier.json", "embedding.keras"])
def test_a_missing_verifier_file_is_named(saved_verifier, name):
    from kerasbench.siamese.verifier import FaceVerifier

    (saved_verifier / name).unlink()
    with pytest.raises(FileNotFoundError, match=str(saved_verifier / name)):
        FaceVerifier.load(saved_verifier)


def test_a_failed_save_keeps_the_previous_verifier(saved_verifier, helpers, monkeypatch):
    from kerasbench.siamese.verifier import FaceVerifier

    before = helpers.snapshot(saved_verifier)
    verifier = _verifier()
    verifier.threshold = 0.1

    def half_then_fail(path, *args, **kwargs):
        with open(path, "wb") as stream:
            stream.write(b"PK\x03\x04 half a model")
        raise OSError("disk full")

    monkeypatch.setattr(verifier.embedding_model, "save", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        verifier.save(saved_verifier)
    assert helpers.snapshot(saved_verifier) == before  # no temporary file left either
    loaded = FaceVerifier.load(saved_verifier)
    assert loaded.threshold == pytest.approx(0.7) and loaded.metadata == {"run": "toy"}
