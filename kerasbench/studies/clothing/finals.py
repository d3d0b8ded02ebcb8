"""The final models: each backbone's best grid configuration (by VALIDATION macro F1, the
first in grid order on ties, as the paper's ``get_best_model`` did) retrained for the
final epochs on the training split and evaluated on validation and test.

A final model is a run like any other (experiment ``final``, one :class:`RunRecord`). Its
trained head (the Dense layer's kernel and bias) is saved beside the records as
``models/<run_id>-head.npz``; :func:`load_final_model` puts it back on the
(deterministically rebuilt) frozen backbone, so the out-of-distribution predictions of a
rerun need no training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kerasbench.engine.execute import RunSpec
from kerasbench.errors import ConfigError
from kerasbench.io import write_npz_atomic
from kerasbench.records import RunRecord
from kerasbench.studies.clothing.grid import GRID_AXES, PROTOCOL_VERSION, STUDY

# Settings a final shares with the grid it is chosen from (all but the axes and epochs).
SHARED_KEYS = ("backbone", "weights", "seed", "feature_cache", "optimizer", "head",
               "interpolation", "performance")


def best_grid_record(records: Sequence[RunRecord]) -> RunRecord:
    """The record with the highest validation macro F1; the first (in the order given,
    grid order) on ties. The test split plays no part."""
    if not records:
        raise ValueError("no grid records to choose the best configuration from")
    scores = [record.metric("validation", "macro_f1") for record in records]
    return records[int(np.argmax(scores))]


def grid_seed(config: dict):
    """The seed of the grid a final is chosen from: its ``grid_seed`` when the grid is
    shared by every seed (``grid_per_seed=False``), else its own seed."""
    return config.get("grid_seed", config.get("seed"))


def matching_grid(final_config: dict, grid_records: Sequence[RunRecord]) -> list[RunRecord]:
    """The grid records a planned final is chosen from (same backbone and settings, and
    the grid's seed: see :func:`grid_seed`)."""
    wanted = {**{key: final_config.get(key) for key in SHARED_KEYS},
              "seed": grid_seed(final_config)}
    return [record for record in grid_records
            if all(record.config.get(key) == value for key, value in wanted.items())]


def final_config(planned: dict, best: RunRecord) -> dict:
    """The planned final config with the grid's best image size, batch size and rate."""
    return {**planned, **{axis: best.config[axis] for axis in GRID_AXES}}


def head_weights_path(output_dir, run_id: str) -> Path:
    return Path(output_dir) / "models" / f"{run_id}-head.npz"


def read_head_weights(path: Path) -> tuple:
    """``(kernel, bias)`` of a saved head; a missing or damaged file is an error naming it,
    the step that writes it and what to do."""
    try:
        with np.load(path) as saved:
            return saved["kernel"], saved["bias"]
    except FileNotFoundError:
        raise FileNotFoundError(f"head weights {path} are missing (written by clothing.run "
                                "when it trains a final model); run the study again: it "
                                "retrains that model") from None
    except Exception as error:  # BadZipFile, EOFError, KeyError, ValueError, pickle refusal
        raise ValueError(f"head weights {path} are damaged ({type(error).__name__}: {error}); "
                         "they are written by clothing.run when it trains a final model: run "
                         "the study again and it retrains that model") from None


def head_weights_usable(path: Path) -> bool:
    try:
        read_head_weights(path)
    except (FileNotFoundError, ValueError):
        return False
    return True


def final_spec(config: dict, index, demo: bool) -> RunSpec:
    return RunSpec(study=STUDY, experiment="final", config=config,
                   dataset_fingerprint=index.fingerprint(), protocol_version=PROTOCOL_VERSION,
                   demo=demo)


def train_final(spec: RunSpec, index, *, cache, output_dir):
    """Train one final model (a :class:`~kerasbench.engine.probe.ProbeResult`) and save
    its head. Its training time counts computing the training features once (with the
    cache) plus fitting the head: ``durations["final_training_s"]``."""
    from kerasbench.engine.feature_models import HEAD_LAYER_NAME
    from kerasbench.engine.probe import train_probe

    config = spec.config
    frames = {split: index.split(split) for split in ("train", "validation", "test")}
    result = train_probe(
        frames, index.class_names, backbone=config["backbone"], weights=config["weights"],
        image_size=config["image_size"], batch_size=config["batch_size"],
        learning_rate=config["learning_rate"], epochs=config["epochs"], seed=config["seed"],
        cache=cache if config["feature_cache"] else None, evaluate=("validation", "test"),
        validation_each_epoch=True, interpolation=config["interpolation"],
        performance=config.get("performance"),
    )
    train_features = (result.extra["features"].get("train") or {}).get("compute_seconds", 0.0)
    result.durations["final_training_s"] = result.durations["train_s"] + train_features
    kernel, bias = result.model.get_layer(HEAD_LAYER_NAME).get_weights()
    path = head_weights_path(output_dir, spec.run_id)
    write_npz_atomic(path, kernel=kernel, bias=bias)
    result.extra["head_weights"] = path.name
    result.extra["rows"] = {split: len(frame) for split, frame in frames.items()}
    return result


def load_final_model(record: RunRecord, output_dir):
    """The full image classifier of a final record: the frozen backbone rebuilt from its
    config (seeded) with the saved head put back."""
    from kerasbench.engine.feature_keys import feature_policy
    from kerasbench.engine.feature_models import HEAD_LAYER_NAME, build_full_classifier

    if record.experiment != "final":
        raise ConfigError(f"run {record.run_id} is a {record.experiment!r} run; only final "
                          "models keep their trained head")
    path = head_weights_path(output_dir, record.run_id)
    if not path.exists():
        raise FileNotFoundError(f"head weights {path} of final model {record.run_id} are "
                                "missing; run the study again (it retrains that model)")
    config = record.config
    model = build_full_classifier(
        config["backbone"], len(record.extra["class_names"]), image_size=config["image_size"],
        weights=config["weights"], seed=config["seed"],
        policy=feature_policy(config["backbone"], config.get("performance")))
    kernel, bias = read_head_weights(path)
    model.get_layer(HEAD_LAYER_NAME).set_weights([kernel, bias])
    return model
