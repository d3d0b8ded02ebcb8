"""Feature cache: keys, hits and misses, atomic files, and agreement with the plain path."""

import os

import numpy as np
import pytest

from kerasbench.engine.execute import TrainResult
from kerasbench.engine.feature_cache import FeatureCache
from kerasbench.engine.feature_keys import feature_key, feature_key_inputs
from kerasbench.engine.feature_models import build_head_model, prepare_head
from kerasbench.engine.fitting import epoch_order
from kerasbench.engine.probe import ProbeResult, backbone_parameter_count, train_probe
from kerasbench.store import RunStore
from kerasbench.studies.clothing import FrozenBackboneGrid, make_demo_data

BACKBONE = "squeezenet1_1"  # the smallest registry backbone: fast on CPU
SIZE = 32


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from kerasbench.data.index import index_folder

    root = make_demo_data(tmp_path_factory.mktemp("data") / "clothing", per_class=(4, 2, 2),
                         image_size=32)
    return index_folder(root)


def frames_of(index):
    return {split: index.split(split) for split in ("train", "validation", "test")}


def key(frame, **changes):
    settings = {"weights": None, "image_size": SIZE, "frame": frame, "seed": 1}
    settings.update(changes)
    backbone = settings.pop("backbone", BACKBONE)
    return feature_key(backbone, **settings)


def test_key_changes_with_every_input(index, tmp_path):
    train = index.split("train")
    base = key(train)
    assert key(train) == base
    assert key(train, image_size=48) != base
    assert key(train, backbone="squeezenet1_0", image_size=48) != key(train, image_size=48)
    assert key(train, seed=2) != base  # random weights depend on the seed
    assert key(train, interpolation="nearest") != base
    assert key(train.iloc[:-1]) != base  # a row removed
    relabelled = train.copy()
    relabelled.loc[0, "label"] = (relabelled.loc[0, "label"] + 1) % 10
    assert key(relabelled) != base
    # ImageNet weights do not depend on the seed, so neither do their features.
    imagenet = feature_key_inputs(BACKBONE, weights="imagenet", image_size=SIZE, frame=train,
                                  seed=1)
    assert imagenet["weights"] == {"kind": "imagenet"}
    assert key(train, weights="imagenet", seed=1) == key(train, weights="imagenet", seed=2)


def test_key_changes_when_a_file_changes(index, tmp_path):
    import shutil

    frame = index.split("test").copy()
    copy = tmp_path / "copy.jpg"
    shutil.copyfile(frame.loc[0, "path"], copy)
    frame.loc[0, "path"] = str(copy)
    before = key(frame)
    stat = os.stat(copy)
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert key(frame) != before


def test_weights_none_needs_a_seed(index):
    with pytest.raises(ValueError, match="seed"):
        key(index.split("train"), seed=None)


def test_cache_miss_then_hit_across_instances(index, tmp_path):
    frames = frames_of(index)
    first = FeatureCache(tmp_path / "cache", verbose=False)
    computed = first.features(BACKBONE, weights=None, image_size=SIZE, frames=frames, seed=1)
    assert first.misses == 3 and first.hits == 0
    assert not any(item.hit for item in computed.values())
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 3
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3
    assert computed["train"].features.shape == (len(frames["train"]), 512)
    np.testing.assert_array_equal(computed["test"].labels, frames["test"]["label"].to_numpy())

    # Another cache object on the same folder (another run or process) reads the files.
    second = FeatureCache(tmp_path / "cache", verbose=False)
    loaded = second.features(BACKBONE, weights=None, image_size=SIZE, frames=frames, seed=1)
    assert second.hits == 3 and second.misses == 0
    for split in frames:
        assert loaded[split].hit
        np.testing.assert_array_equal(loaded[split].features, computed[split].features)
    # A new size is a miss; the old entries stay.
    second.features(BACKBONE, weights=None, image_size=40, frames={"test": frames["test"]},
                    seed=1)
    assert second.misses == 1
    assert second.contains(BACKBONE, weights=None, image_size=SIZE, frame=frames["test"],
                           split="test", seed=1)


def test_same_seed_gives_the_same_random_features(index, tmp_path):
    frame = {"test": index.split("test")}
    one = FeatureCache(tmp_path / "a", verbose=False).features(
        BACKBONE, weights=None, image_size=SIZE, frames=frame, seed=7)
    two = FeatureCache(tmp_path / "b", verbose=False).features(
        BACKBONE, weights=None, image_size=SIZE, frames=frame, seed=7)
    np.testing.assert_array_equal(one["test"].features, two["test"].features)


def test_damaged_entry_is_computed_again(index, tmp_path, capsys):
    frames = {"test": index.split("test")}
    cache = FeatureCache(tmp_path / "cache", verbose=False)
    good = cache.features(BACKBONE, weights=None, image_size=SIZE, frames=frames, seed=1)
    good["test"].path.write_bytes(b"not an npz file")
    again = FeatureCache(tmp_path / "cache", verbose=False)
    redone = again.features(BACKBONE, weights=None, image_size=SIZE, frames=frames, seed=1)
    assert again.misses == 1 and "unreadable cache entry" in capsys.readouterr().out
    np.testing.assert_array_equal(redone["test"].features, good["test"].features)
    # No temporary files are left behind by the atomic writes.
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]


def test_epoch_order_is_a_seeded_permutation():
    order = epoch_order(10, seed=3, epoch=0)
    assert sorted(order) == list(range(10))
    np.testing.assert_array_equal(order, epoch_order(10, seed=3, epoch=0))
    assert not np.array_equal(order, epoch_order(10, seed=3, epoch=1))


def test_reset_head_equals_a_fresh_head(index, tmp_path):
    """The grid reuses one head model across trials; a reset must equal a new model."""
    frames = frames_of(index)
    cache = FeatureCache(tmp_path / "cache", verbose=False)
    settings = {"backbone": BACKBONE, "weights": None, "image_size": SIZE, "epochs": 2,
                "seed": 1, "cache": cache}
    reused = build_head_model(512, 10, 1)
    prepare_head(reused, 0.5)
    reused.fit(np.ones((4, 512), "float32"), np.zeros(4, "int32"), verbose=0)
    first = train_probe(frames, index.class_names, batch_size=4, learning_rate=0.01,
                        model=reused, **settings)
    fresh = train_probe(frames, index.class_names, batch_size=4, learning_rate=0.01,
                        **settings)
    assert first.history["loss"] == fresh.history["loss"]
    np.testing.assert_array_equal(first.predictions["test"].probabilities,
                                  fresh.predictions["test"].probabilities)


def test_probe_result_is_a_train_result(index, tmp_path):
    frames = frames_of(index)
    result = train_probe(frames, index.class_names, backbone=BACKBONE, weights=None,
                         image_size=SIZE, batch_size=4, learning_rate=0.01, epochs=1, seed=1,
                         cache=FeatureCache(tmp_path / "cache", verbose=False))
    assert isinstance(result, ProbeResult) and isinstance(result, TrainResult)
    assert set(result.durations) >= {"feature_s", "build_s", "train_s",
                                     "evaluate_validation_s", "evaluate_test_s",
                                     "evaluate_s", "total_s"}
    assert result.extra["parameters"] == result.parameters
    assert result.extra["class_names"] == list(index.class_names)


def grid_of(index, cache, **changes):
    settings = {"backbone": BACKBONE, "weights": None, "image_sizes": [SIZE],
                "batch_sizes": [4, 8], "learning_rates": [0.01, 0.001], "epochs": 2,
                "seed": 5, "feature_cache": cache}
    settings.update(changes)
    return FrozenBackboneGrid(index, **settings)


def test_cached_and_plain_grids_agree(index, tmp_path):
    store = RunStore(tmp_path / "records")
    outcomes = {}
    for name, cache in (("cached", FeatureCache(tmp_path / "cache", verbose=False)),
                        ("plain", None)):
        outcomes[name] = grid_of(index, cache).run(store, progress=False)
    assert len(store) == 8  # feature_cache on/off is part of every config
    for fast, slow in zip(outcomes["cached"].records, outcomes["plain"].records):
        assert fast.config["feature_cache"] and not slow.config["feature_cache"]
        # No switches asked for: the config (and its run_id) carries no performance key.
        assert "performance" not in fast.config and "performance" not in slow.config
        for split in ("validation", "test"):
            assert abs(fast.metric(split, "macro_f1") - slow.metric(split, "macro_f1")) <= 1e-3
        np.testing.assert_allclose(fast.history["loss"], slow.history["loss"], rtol=1e-4)
        assert fast.extra["parameters"]["total"] == slow.extra["parameters"]["total"]
        assert set(fast.durations) >= {"total_s", "train_s", "feature_s", "build_s",
                                       "evaluate_validation_s"}
        assert fast.policy["head_training"] == "device loop"
        assert slow.policy["head_training"] == "keras fit on images"


def test_full_model_parameters_match_the_paper_head():
    # backbone + GAP + Dense(10): the same arithmetic as the paper's totals.
    assert backbone_parameter_count(BACKBONE) == 722_496


class SimulatedKill(BaseException):
    """Not an Exception: keras-tuner cannot catch it, as it cannot catch a SIGKILL."""


def test_frozen_grid_resumes_after_interruption(index, tmp_path):
    store = RunStore(tmp_path / "records")
    grid = grid_of(index, FeatureCache(tmp_path / "cache", verbose=False), epochs=1)
    train = grid.work

    def kill_after_two(spec, point):
        if len(store.records()) == 2:
            raise SimulatedKill()
        return train(spec, point)

    grid.work = kill_after_two
    with pytest.raises(SimulatedKill):
        grid.run(store, progress=False)
    finished = {record.run_id: record.created_at for record in store.records()}
    assert len(finished) == 2
    cache = FeatureCache(tmp_path / "cache", verbose=False)
    outcome = grid_of(index, cache, epochs=1).run(store, progress=False)
    assert len(outcome.records) == 4 and len(store.records()) == 4
    assert len(outcome.computed) == 2 and not set(outcome.computed) & set(finished)
    assert cache.misses == 0  # the features computed before the interruption were reused
    for record in outcome.records:
        if record.run_id in finished:
            assert record.created_at == finished[record.run_id]


def test_backbones_of_one_size_share_one_decoding(index, tmp_path, monkeypatch):
    import kerasbench.pipeline as pipeline

    frames = frames_of(index)
    backbones = [BACKBONE, "resnet18"]
    separate = {name: FeatureCache(tmp_path / f"alone-{name}", verbose=False).features(
        name, weights=None, image_size=SIZE, frames=frames, seed=1) for name in backbones}

    passes = []
    real = pipeline.make_dataset
    monkeypatch.setattr(pipeline, "make_dataset",
                        lambda frame, **kwargs: passes.append(len(frame)) or real(frame, **kwargs))
    cache = FeatureCache(tmp_path / "shared", verbose=False)
    shared = cache.features_shared(backbones, weights=None, image_size=SIZE, frames=frames,
                                   seed=1)
    # One pass over the three splits together, for both backbones.
    assert passes == [sum(len(frame) for frame in frames.values())]
    assert cache.misses == 2 * len(frames)
    for name in backbones:
        for split in frames:
            np.testing.assert_array_equal(shared[name][split].features,
                                          separate[name][split].features)
            np.testing.assert_array_equal(shared[name][split].labels,
                                          frames[split]["label"].to_numpy())
            # Each backbone is charged its own forward passes plus a share of decoding.
            assert shared[name][split].compute_seconds > 0
    # Each backbone's entries are ordinary entries: a later single request hits them.
    again = FeatureCache(tmp_path / "shared", verbose=False)
    again.features(backbones[1], weights=None, image_size=SIZE, frames=frames, seed=1)
    assert (again.hits, again.misses) == (len(frames), 0)
    assert not passes[1:]


def test_clothing_precomputes_each_size_once_for_all_backbones(index, tmp_path, monkeypatch):
    from kerasbench.studies.clothing.grid import precompute_features

    cache = FeatureCache(tmp_path / "cache", verbose=False)
    calls = []
    real = cache.features_shared
    monkeypatch.setattr(cache, "features_shared",
                        lambda backbones, **kwargs: calls.append(
                            (tuple(backbones), kwargs["image_size"])) or real(backbones,
                                                                               **kwargs))
    grids = [FrozenBackboneGrid(index, backbone=name, weights=None, image_sizes=[32, 40],
                                batch_sizes=[4], learning_rates=[0.01], epochs=1, seed=1,
                                feature_cache=cache)
             for name in (BACKBONE, "resnet18")]
    store = RunStore(tmp_path / "records")
    precompute_features(grids, store)
    assert calls == [((BACKBONE, "resnet18"), 32), ((BACKBONE, "resnet18"), 40)]
    # Every point then finds its features: no grid run computes any.
    misses = cache.misses
    grids[0].run(store, directory=tmp_path / "tuner", progress=False)
    assert cache.misses == misses
    # Finished points need nothing: a second precompute asks for no size of that grid.
    calls.clear()
    precompute_features(grids, store)
    assert calls == [(("resnet18",), 32), (("resnet18",), 40)]
