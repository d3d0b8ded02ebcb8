"""Every switch of the GPU policy, forced on this CPU: bfloat16, XLA and augmentation
inside the model run end to end through each engine path, and the records say so.

A CPU never chooses these switches itself (see test_performance.py); forcing them here
runs the code a GPU would run, so a broken GPU path fails in CI, which has no GPU."""

import numpy as np
import pytest

from kerasbench.store import RunStore

pytestmark = pytest.mark.slow  # XLA compiles each graph: tens of seconds in all

ALL_ON = {"mixed_precision": True, "jit_compile": True, "augment_on_device": True}


def test_classification_run_with_every_switch_on(tiny_index, tmp_path):
    from kerasbench.engine import run_classification

    config = {"backbone": "squeezenet1_1", "image_size": 32, "batch_size": 8, "epochs": 2,
              "head": "logits", "trainable": "all", "learning_rate": 1e-3, "seed": 7,
              "augmentation": {"horizontal_flip": True, "rotation_range": 10},
              "performance": ALL_ON}
    record = run_classification(config, tiny_index, RunStore(tmp_path / "records")).record
    assert record.policy["compute_dtype"] == "bfloat16"
    assert record.policy["jit_compile"] and record.policy["augment_on_device"]
    assert np.isfinite(record.history["loss"]).all()
    assert record.metrics["test"]["count"] == 10


def test_frozen_grid_paths_agree_under_bfloat16_and_xla(tiny_index, tmp_path):
    from kerasbench.engine.feature_cache import FeatureCache
    from kerasbench.studies.clothing import FrozenBackboneGrid

    store = RunStore(tmp_path / "records")
    switches = {"mixed_precision": True, "jit_compile": True}
    outcomes = {}
    for name, cache in (("cached", FeatureCache(tmp_path / "cache", verbose=False)),
                        ("plain", None)):
        grid = FrozenBackboneGrid(
            tiny_index, backbone="squeezenet1_1", weights=None, image_sizes=[32],
            batch_sizes=[8], learning_rates=[0.01], epochs=2, seed=5, feature_cache=cache,
            performance=switches,
        )
        outcomes[name] = grid.run(store, directory=tmp_path / "tuner", progress=False)
    (fast,), (slow,) = outcomes["cached"].records, outcomes["plain"].records
    assert fast.config["performance"] == switches
    for record in (fast, slow):
        assert record.policy["compute_dtype"] == "bfloat16"
        assert record.policy["jit_compile"] is True
        assert record.policy["augment_on_device"] is False  # features: never
    # Same bfloat16 extractor graph on both paths; the XLA-compiled training step of the
    # plain path may round differently from the device loop.
    np.testing.assert_allclose(fast.history["loss"], slow.history["loss"], rtol=1e-2)


def test_faces_run_with_every_switch_on(tmp_path):
    from tiny_faces import tiny_faces

    from kerasbench.studies import faces

    context, data = tiny_faces(tmp_path)
    planned = faces.configs(optimizers=["adam"], learning_rates=[0.001], epochs=[1],
                            paper_epochs=None, seeds=[3], embedding_dim=16, pairs_per_person=4,
                            batch_size=16, augmentation={"horizontal_flip": True},
                            performance=ALL_ON)
    (record,) = faces.run(context, data, planned, latency_repeats=1, progress=False)
    assert record.policy["compute_dtype"] == "bfloat16"
    assert record.policy["augment_on_device"] is True
    distances = np.asarray(record.extra["pair_distances"]["test"]["distance"])
    assert np.isfinite(distances).all() and np.isfinite(record.history["loss"]).all()
