"""Clothing classification with four frozen ImageNet backbones over a hyperparameter grid.

The protocol of ``shared/seeds/001_*.txt`` (see ``shared/studies.md`` section 2): each
backbone (EfficientNetB6, EfficientNetB7, DenseNet201, Xception; any registry name works)
is frozen, called with ``training=False``, followed by GlobalAveragePooling2D and a
``Dense(10)`` of logits, trained with Adam on sparse categorical cross-entropy from logits
(the same loss as the paper's categorical one on one-hot labels), without augmentation.
A grid of image size x batch size x learning rate (the paper: {300, 400, 500} x
{32, 48, 64} x {0.01, 0.001, 0.0001}, 2 epochs each) runs through keras-tuner's
GridSearch, one record per trial; the best configuration of each backbone by VALIDATION
macro F1 is retrained for the final epochs (the paper: 5) and reported on the test split.

With ``feature_cache=True`` (the default) the pooled features of each (backbone, weights,
image size, split) are computed once and every trial trains its head on them
(:mod:`kerasbench.features`); ``False`` fits the whole frozen model on images in every
trial, as the paper did. Both give the same scores.

The notebook ``notebooks/clothing.ipynb`` calls the functions here; the paper's numbers
(its Table I, the grid maxima and the final comparison table) are encoded below as data.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench import plots
from kerasbench.reports import compare_with_paper, save_table

__all__ = [
    "DATASET_NAMES",
    "DISPLAY_NAMES",
    "PAPER",
    "PAPER_BACKBONES",
    "PAPER_FINAL",
    "PAPER_GRID",
    "PAPER_GRID_BEST",
    "PAPER_OOD",
    "PAPER_TABLE_I",
    "FinalModel",
    "GridRun",
    "best_configurations",
    "comparison_table",
    "demo_ood_folder",
    "display_name",
    "feature_scale_table",
    "final_table",
    "grid_maxima_table",
    "grid_seconds",
    "load_clothing",
    "ood_table",
    "open_set_answers",
    "paper_table_one",
    "parameter_table",
    "plot_confusion_matrices",
    "plot_summary",
    "predict_folder",
    "run_grids",
    "table_one",
    "train_finals",
]

STUDY = "clothing"
PAPER = (
    "Clothing classification with advanced CNN models (EfficientNetB6, EfficientNetB7, "
    "DenseNet201, Xception) and hyperparameter tuning; shared/seeds/001_e4ac0655c08fe60f.txt"
)
PAPER_BACKBONES = ("efficientnetb6", "efficientnetb7", "densenet201", "xception")
DISPLAY_NAMES = {
    "efficientnetb6": "EfficientNetB6",
    "efficientnetb7": "EfficientNetB7",
    "densenet201": "DenseNet201",
    "xception": "Xception",
}
PAPER_GRID = {
    "image_sizes": (300, 400, 500),
    "batch_sizes": (32, 48, 64),
    "learning_rates": (0.01, 0.001, 0.0001),
    "grid_epochs": 2,
    "final_epochs": 5,
}
# Where the clothing data is looked for when the paper profile gives no folder: the shared
# data name, then the Kaggle dataset agrigorev/clothing-dataset-small (as mounted under
# /kaggle/input, with or without its inner folder).
DATASET_NAMES = (
    "clothing-small",
    "clothing-dataset-small",
    "clothing-dataset-small/clothing-dataset-small",
)

# Table I of the paper, verbatim from the seed file: macro F1 (%) of EfficientNetB6,
# EfficientNetB7, DenseNet201 and Xception, then image_shape, batch_size, learning_rate.
PAPER_TABLE_I = """
85.59% 84.53% 83.55% 84.61% (300, 300) 32 0.01
86.54% 82.44% 85.71% 82.93% (300, 300) 32 0.001
62.51% 65.79% 36.44% 47.08% (300, 300) 32 0.0001
86.00% 84.59% 88.56% 84.30% (300, 300) 48 0.01
83.86% 83.02% 84.73% 82.31% (300, 300) 48 0.001
54.30% 61.90% 25.51% 33.98% (300, 300) 48 0.0001
87.28% 87.87% 88.74% 87.29% (300, 300) 64 0.01
85.72% 81.82% 81.79% 81.39% (300, 300) 64 0.001
49.15% 53.02% 21.34% 32.62% (300, 300) 64 0.0001
83.89% 84.25% 88.28% 87.74% (400, 400) 32 0.01
88.43% 85.36% 80.35% 86.07% (400, 400) 32 0.001
60.52% 67.19% 22.36% 39.61% (400, 400) 32 0.0001
86.26% 87.21% 87.84% 90.19% (400, 400) 48 0.01
87.17% 84.27% 77.67% 82.05% (400, 400) 48 0.001
54.32% 56.06% 15.65% 33.20% (400, 400) 48 0.0001
89.68% 85.29% 90.73% 84.93% (400, 400) 64 0.01
86.25% 83.15% 76.26% 83.91% (400, 400) 64 0.001
42.90% 54.96% 10.35% 27.81% (400, 400) 64 0.0001
88.61% 87.35% 80.80% 88.88% (500, 500) 32 0.01
84.85% 85.01% 74.51% 82.79% (500, 500) 32 0.001
57.04% 63.40% 22.99% 36.62% (500, 500) 32 0.0001
90.13% 87.77% 86.21% 88.17% (500, 500) 48 0.01
84.76% 85.60% 70.70% 83.79% (500, 500) 48 0.001
51.07% 62.02% 12.03% 27.59% (500, 500) 48 0.0001
88.83% 88.51% 81.78% 86.23% (500, 500) 64 0.01
85.76% 84.88% 66.17% 78.82% (500, 500) 64 0.001
43.62% 51.30% 11.27% 28.76% (500, 500) 64 0.0001
"""

# The paper's grid maxima as its text states them (macro F1 %, image size, batch, lr).
PAPER_GRID_BEST = {
    "efficientnetb6": {"f1": 90.13, "image_size": 500, "batch_size": 48, "learning_rate": 0.01},
    "efficientnetb7": {"f1": 88.51, "image_size": 500, "batch_size": 64, "learning_rate": 0.01},
    "densenet201": {"f1": 90.73, "image_size": 400, "batch_size": 64, "learning_rate": 0.01},
    "xception": {"f1": 90.19, "image_size": 400, "batch_size": 48, "learning_rate": 0.01},
}

# The paper's final table (its conclusion): test precision, recall and F1 in %, total
# parameters, final training and grid search durations in seconds (Kaggle GPU).
PAPER_FINAL = {
    "efficientnetb6": {"precision %": 92.20, "recall %": 90.10, "F1 %": 90.80,
                       "total parameters": 40_983_193, "final training s": 420,
                       "grid search s": 3500},
    "efficientnetb7": {"precision %": 91.80, "recall %": 92.90, "F1 %": 92.20,
                       "total parameters": 64_123_297, "final training s": 555,
                       "grid search s": 4559},
    "densenet201": {"precision %": 84.80, "recall %": 83.00, "F1 %": 82.50,
                    "total parameters": 18_341_194, "final training s": 212,
                    "grid search s": 2642},
    "xception": {"precision %": 91.40, "recall %": 91.30, "F1 %": 91.10,
                 "total parameters": 20_881_970, "final training s": 139,
                 "grid search s": 1662},
}

# The paper's Table III: what each final model answered for photos of things that are
# not clothing (two photos per object).
PAPER_OOD = pd.DataFrame(
    [
        ["Apple", "dress", "shoes", "hat", "hat"],
        ["Apple", "dress", "hat", "hat", "hat"],
        ["Car", "outwear", "shorts", "hat", "dress"],
        ["Car", "outwear", "skirt", "outwear", "dress"],
        ["Cat", "pants", "hat", "shoes", "hat"],
        ["Cat", "outwear", "shorts", "dress", "shoes"],
        ["Fountain", "t-shirt", "dress", "shirt", "hat"],
        ["Fountain", "outwear", "dress", "shirt", "hat"],
        ["Phone", "outwear", "t-shirt", "shoes", "shoes"],
        ["Phone", "outwear", "t-shirt", "hat", "t-shirt"],
    ],
    columns=["photo", "EfficientNetB6", "EfficientNetB7", "DenseNet201", "Xception"],
)

_TABLE_I_ROW = re.compile(
    r"^\s*([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s+\((\d+),\s*(\d+)\)\s+(\d+)\s+([\d.]+)\s*$"
)


def display_name(backbone: str) -> str:
    """The paper's spelling of a backbone (``DenseNet201``), else the registry name."""
    return DISPLAY_NAMES.get(str(backbone).lower(), str(backbone))


def paper_table_one() -> pd.DataFrame:
    """The paper's Table I parsed from :data:`PAPER_TABLE_I`: 27 rows indexed by
    (image_size, batch_size, learning_rate), one macro F1 (%) column per backbone."""
    rows = []
    for line in PAPER_TABLE_I.strip().splitlines():
        match = _TABLE_I_ROW.match(line)
        if match is None:
            raise ValueError(f"PAPER_TABLE_I has a line that is not a table row: {line!r}")
        values = match.groups()
        rows.append({
            "image_size": int(values[4]), "batch_size": int(values[6]),
            "learning_rate": float(values[7]),
            **{backbone: float(value) for backbone, value in zip(PAPER_BACKBONES, values[:4])},
        })
    return pd.DataFrame(rows).set_index(["image_size", "batch_size", "learning_rate"])


# --------------------------------------------------------------------------- data


def load_clothing(*, profile: str, output_dir, data_dir, seed: int, max_per_class=None,
                  demo_options: dict | None = None):
    """Start the study (folders, seed, data note) and index its data.

    ``data_dir`` None means the embedded demo data, except for the ``paper`` profile,
    which never runs on demo data: it looks the clothing set up under ``DATA_DIR``,
    ``KERASBENCH_DATA`` (default ``../shared/data``) and ``/kaggle/input`` by the names
    in :data:`DATASET_NAMES`. ``max_per_class`` keeps at most that many images of each
    class per split (an int for every split, or ``{"train": n, "validation": n, "test":
    n}``), seeded, for CPU-sized runs on real data.

    Returns ``(context, index)``.
    """
    from kerasbench.data.index import index_folder
    from kerasbench.data.sources import resolve_dataset
    from kerasbench.studies.common import start_study

    if data_dir is None and profile == "paper":
        source = resolve_dataset(DATASET_NAMES[0], candidates=DATASET_NAMES[1:])
        data_dir = str(source.path)
    context = start_study(STUDY, profile=profile, output_dir=output_dir, data_dir=data_dir,
                          demo_dataset="clothing", seed=seed, demo_options=demo_options)
    index = index_folder(context.data_dir)
    missing = [split for split in ("train", "validation", "test") if split not in index.splits]
    if missing:
        raise ValueError(
            f"the clothing study needs train/, validation/ and test/ folders; "
            f"{context.data_dir} lacks {missing}"
        )
    if max_per_class is not None:
        if isinstance(max_per_class, Mapping):
            per_split = dict(max_per_class)
        elif isinstance(max_per_class, (int, np.integer)) and not isinstance(max_per_class, bool):
            per_split = {split: int(max_per_class) for split in index.splits}
        else:
            raise ValueError(
                "max_per_class must be None, an int or a dict like {'train': 40, "
                f"'validation': 10, 'test': 10}}, got {max_per_class!r}"
            )
        index = index.subsample(per_split, seed=seed)
    return context, index


# --------------------------------------------------------------------------- grid


@dataclass
class GridRun:
    """Every backbone's grid: records (grid order), keras-tuner outcomes, skipped sizes."""

    records: dict
    outcomes: dict
    image_sizes: dict
    skipped_sizes: dict
    feature_cache: object = None

    def frame(self) -> pd.DataFrame:
        """One tidy row per trial."""
        rows = []
        for backbone, records in self.records.items():
            for record in records:
                durations = record["durations"]
                rows.append({
                    "backbone": backbone,
                    "image_size": record["config"]["image_size"],
                    "batch_size": record["config"]["batch_size"],
                    "learning_rate": record["config"]["learning_rate"],
                    "val_macro_f1": record["metrics"]["validation"]["macro_f1"],
                    "val_accuracy": record["metrics"]["validation"]["accuracy"],
                    "test_macro_f1": record["metrics"]["test"]["macro_f1"],
                    "trial_seconds": durations.get("trial_seconds"),
                    "feature_cache": record["config"]["feature_cache"],
                    "config_hash": record["config_hash"],
                })
        return pd.DataFrame(rows)


def _sizes_for(backbone: str, image_sizes: Sequence[int]) -> tuple[list, list]:
    from kerasbench.backbones import get_backbone

    spec = get_backbone(backbone)
    usable = [int(size) for size in image_sizes if int(size) >= spec.min_size]
    return usable, [int(size) for size in image_sizes if int(size) < spec.min_size]


def _feature_cache(context, feature_cache_dir):
    from kerasbench.features import FeatureCache

    folder = Path(feature_cache_dir) if feature_cache_dir else context.output_dir / "feature_cache"
    return FeatureCache(folder)


def run_grids(context, index, *, backbones: Sequence[str], image_sizes: Sequence[int],
              batch_sizes: Sequence[int], learning_rates: Sequence[float], epochs: int,
              weights, seed: int, feature_cache: bool = True, feature_cache_dir=None,
              interpolation: str = "bilinear", extra_config: Mapping | None = None,
              verbose: bool = True, performance: Mapping | None = None) -> GridRun:
    """Each backbone's grid through keras-tuner, resumable, one record per trial.

    ``performance`` holds performance switches (``{"mixed_precision": False}``...; see
    :func:`kerasbench.features.feature_policy`); the device's policy when ``None``.

    Image sizes below a backbone's minimum input size (Xception: 71) are left out of that
    backbone's grid, with a printed note; a backbone left with no size is an error.
    """
    from kerasbench.grid import FrozenBackboneGrid, run_grid

    if not backbones:
        raise ValueError("backbones is empty: name at least one, e.g. ['xception']")
    store = context.store("grid")
    cache = _feature_cache(context, feature_cache_dir) if feature_cache else None
    fixed = {"study": STUDY, **dict(extra_config or {})}
    records, outcomes, sizes, skipped = {}, {}, {}, {}

    def progress(record):
        if verbose:
            config = record["config"]
            print(f"  {config['backbone']} {config['image_size']}px batch {config['batch_size']} "
                  f"lr {config['learning_rate']:g}: validation macro F1 "
                  f"{record['metrics']['validation']['macro_f1']:.4f} "
                  f"({record['durations']['trial_seconds']:.1f}s)", flush=True)

    for backbone in backbones:
        usable, too_small = _sizes_for(backbone, image_sizes)
        if too_small:
            print(f"{backbone}: image sizes {too_small} are below its minimum input size; "
                  f"its grid uses {usable}")
        if not usable:
            raise ValueError(
                f"no image size in {list(image_sizes)} fits backbone {backbone!r} (its minimum "
                "is larger); add a larger size to image_sizes"
            )
        grid = FrozenBackboneGrid(
            index, backbone=backbone, weights=weights, image_sizes=usable,
            batch_sizes=batch_sizes, learning_rates=learning_rates, epochs=epochs, seed=seed,
            store=store, feature_cache=cache, fixed_config=fixed, interpolation=interpolation,
            on_record=progress, performance=performance,
        )
        outcome = run_grid(grid, directory=context.output_dir / "tuner")
        if verbose:
            print(f"{backbone}: {len(outcome.records)} trials, {len(outcome.computed)} run now, "
                  f"{len(outcome.skipped)} already recorded, {outcome.seconds:.1f}s", flush=True)
        key = grid.backbone
        records[key], outcomes[key], sizes[key], skipped[key] = (
            outcome.records, outcome, usable, too_small)
    return GridRun(records=records, outcomes=outcomes, image_sizes=sizes, skipped_sizes=skipped,
                   feature_cache=cache)


def feature_scale_table(grid: GridRun) -> pd.DataFrame:
    """Standard deviation of the pooled training features per backbone and image size
    (cached path only). Randomly initialised EfficientNets and Xception give features
    around 1e-6, on which a linear head stays at chance; ImageNet features are near 1."""
    rows = {}
    for backbone, records in grid.records.items():
        for record in records:
            train = (record.get("features") or {}).get("train") or {}
            if "std" in train:
                rows[(display_name(backbone), record["config"]["image_size"])] = train["std"]
    table = pd.Series(rows, name="pooled feature std (train)", dtype=float)
    if len(table):
        table.index.names = ["backbone", "image_size"]
    return table.to_frame()


def grid_seconds(records: Sequence[dict]) -> float:
    """What a backbone's grid cost: every trial's time, with each distinct feature file
    counted once at the time it took to compute (so a grid that read features from an
    earlier run's cache is not reported as free, nor charged twice)."""
    total, computed = 0.0, {}
    for record in records:
        durations = record["durations"]
        total += durations.get("trial_seconds", 0.0) - durations.get("feature_seconds", 0.0)
        for entry in (record.get("features") or {}).values():
            computed[entry["key"]] = entry.get("compute_seconds", 0.0)
    return total + sum(computed.values())


def best_configurations(grid: GridRun) -> pd.DataFrame:
    """Per backbone, the configuration with the highest VALIDATION macro F1 (the first in
    grid order on ties, as the paper's ``get_best_model`` did)."""
    rows = []
    for backbone, records in grid.records.items():
        scores = [record["metrics"]["validation"]["macro_f1"] for record in records]
        best = records[int(np.argmax(scores))]
        rows.append({
            "backbone": backbone,
            "image_size": best["config"]["image_size"],
            "batch_size": best["config"]["batch_size"],
            "learning_rate": best["config"]["learning_rate"],
            "validation macro F1 %": 100 * best["metrics"]["validation"]["macro_f1"],
            "test macro F1 %": 100 * best["metrics"]["test"]["macro_f1"],
            "grid search s": grid_seconds(records),
        })
    return pd.DataFrame(rows).set_index("backbone")


# --------------------------------------------------------------------------- tables


def table_one(grid: GridRun, *, image_sizes, batch_sizes, learning_rates) -> pd.DataFrame:
    """The paper's Table I shape: one row per (image size, batch, lr), one validation
    macro F1 (%) column per backbone, and the paper's value beside it where the paper
    ran that configuration (its grid is 300/400/500 x 32/48/64 x 0.01/0.001/0.0001)."""
    paper = paper_table_one()
    index = pd.MultiIndex.from_tuples(
        [(int(size), int(batch), float(rate)) for size in image_sizes
         for batch in batch_sizes for rate in learning_rates],
        names=["image_size", "batch_size", "learning_rate"],
    )
    table = pd.DataFrame(index=index)
    for backbone, records in grid.records.items():
        scores = {(r["config"]["image_size"], r["config"]["batch_size"],
                   r["config"]["learning_rate"]): 100 * r["metrics"]["validation"]["macro_f1"]
                  for r in records}
        name = display_name(backbone)
        table[f"{name} F1 % (this run)"] = [scores.get(key, np.nan) for key in index]
        if backbone in paper.columns:
            table[f"{name} F1 % (paper)"] = [
                paper[backbone].get(key, np.nan) if key in paper.index else np.nan
                for key in index
            ]
    return table.round(2)


def grid_maxima_table(grid: GridRun) -> pd.DataFrame:
    """Each backbone's best grid configuration, this run beside the paper's."""
    best = best_configurations(grid)
    rows = []
    for backbone, row in best.iterrows():
        paper = PAPER_GRID_BEST.get(backbone, {})
        rows.append({
            "backbone": display_name(backbone),
            "best (size, batch, lr) this run": (
                f"({int(row['image_size'])}, {int(row['batch_size'])}, "
                f"{row['learning_rate']:g})"),
            "validation F1 % this run": round(row["validation macro F1 %"], 2),
            "best (size, batch, lr) paper": (
                f"({paper['image_size']}, {paper['batch_size']}, {paper['learning_rate']:g})"
                if paper else None),
            "F1 % paper": paper.get("f1"),
        })
    return pd.DataFrame(rows).set_index("backbone")


def parameter_table(backbones: Sequence[str], num_classes: int = 10) -> pd.DataFrame:
    """Parameters of backbone + GlobalAveragePooling2D + Dense(num_classes), beside the
    paper's totals. Counts each backbone once per process (a random copy: the counts do
    not depend on the weights or the image size)."""
    from kerasbench.backbones import get_backbone
    from kerasbench.features import backbone_parameter_count

    rows = []
    for backbone in backbones:
        spec = get_backbone(backbone)
        base = backbone_parameter_count(spec.name)
        head = spec.feature_dim * num_classes + num_classes
        rows.append({
            "backbone": display_name(spec.name),
            "backbone parameters": base,
            "head parameters (Dense)": head,
            "total parameters": base + head,
            "paper total": PAPER_FINAL.get(spec.name, {}).get("total parameters"),
        })
    return pd.DataFrame(rows).set_index("backbone")


# --------------------------------------------------------------------------- finals


@dataclass
class FinalModel:
    """A backbone's best configuration retrained for the final epochs."""

    backbone: str
    record: dict
    model: object
    image_size: int
    grid_seconds: float
    retrained: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def test(self) -> dict:
        return self.record["metrics"]["test"]


def _head_weights_path(context, record_hash: str) -> Path:
    return context.output_dir / "models" / f"{record_hash}-head.npz"


def train_finals(context, index, grid: GridRun, *, final_epochs: int, weights, seed: int,
                 feature_cache: bool = True, feature_cache_dir=None,
                 interpolation: str = "bilinear", extra_config: Mapping | None = None,
                 verbose: bool = True, performance: Mapping | None = None) -> dict:
    """Retrain each backbone's best grid configuration for ``final_epochs`` (on train,
    validation reported per epoch) and evaluate it on test.

    A final model already recorded is not trained again: its head weights, saved beside
    the records, are put back on the (deterministically rebuilt) frozen backbone.
    Returns backbone -> :class:`FinalModel`.
    """
    from kerasbench.features import (
        build_full_classifier,
        feature_policy,
        frame_fingerprint,
        train_probe,
    )

    store = context.store("final")
    cache = grid.feature_cache
    if feature_cache and cache is None:
        cache = _feature_cache(context, feature_cache_dir)
    frames = {split: index.split(split) for split in ("train", "validation", "test")}
    best = best_configurations(grid)
    finals = {}
    for backbone, row in best.iterrows():
        config = {
            "study": STUDY, **dict(extra_config or {}), "stage": "final",
            "backbone": backbone, "weights": weights if weights is None else str(weights),
            "image_size": int(row["image_size"]), "batch_size": int(row["batch_size"]),
            "learning_rate": float(row["learning_rate"]), "epochs": int(final_epochs),
            "seed": int(seed), "feature_cache": bool(feature_cache), "optimizer": "adam",
            "head": "logits", "interpolation": interpolation,
            "dataset": frame_fingerprint(index.frame),
            **({"performance": dict(performance)} if performance else {}),
        }
        record = store.get(config)
        weights_path = _head_weights_path(context, store.path_for(config).stem)
        if record is not None and weights_path.exists():
            model = build_full_classifier(backbone, len(index.class_names),
                                          image_size=config["image_size"], weights=weights,
                                          seed=seed, policy=feature_policy(backbone, performance))
            with np.load(weights_path) as saved:
                model.get_layer("predictions").set_weights([saved["kernel"], saved["bias"]])
            finals[backbone] = FinalModel(backbone, record, model, config["image_size"],
                                          float(row["grid search s"]), retrained=False)
            continue
        result = train_probe(
            frames, index.class_names, backbone=backbone, weights=weights,
            image_size=config["image_size"], batch_size=config["batch_size"],
            learning_rate=config["learning_rate"], epochs=int(final_epochs), seed=seed,
            cache=cache if feature_cache else None, evaluate=("validation", "test"),
            validation_each_epoch=True, interpolation=interpolation, performance=performance,
        )
        durations = dict(result.durations)
        # With the cache, training the final model from scratch means computing the
        # training features once plus fitting the head: both count as its training time.
        train_features = (result.features.get("train") or {}).get("compute_seconds", 0.0)
        durations["final_training_seconds"] = durations["training_seconds"] + train_features
        model = result.full_model()
        kernel, bias = model.get_layer("predictions").get_weights()
        weights_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(weights_path, kernel=kernel, bias=bias)
        record = store.write(
            config, metrics=result.metrics, durations=durations, seed=seed,
            history=result.history, parameters=result.parameters, features=result.features,
            path=result.path, class_names=list(index.class_names),
            grid_seconds=float(row["grid search s"]),
            performance=result.performance,
        )
        if verbose:
            print(f"{backbone}: final model ({config['image_size']}px, batch "
                  f"{config['batch_size']}, lr {config['learning_rate']:g}, {final_epochs} "
                  f"epochs): test macro F1 {result.metrics['test']['macro_f1']:.4f}", flush=True)
        finals[backbone] = FinalModel(backbone, record, model, config["image_size"],
                                      float(row["grid search s"]))
    return finals


def final_table(finals: Mapping[str, FinalModel]) -> pd.DataFrame:
    """The paper's final table shape: quantities as rows, one column per backbone."""
    columns = {}
    for backbone, final in finals.items():
        test = final.test
        columns[display_name(backbone)] = {
            "precision %": round(100 * test["macro_precision"], 2),
            "recall %": round(100 * test["macro_recall"], 2),
            "F1 %": round(100 * test["macro_f1"], 2),
            "accuracy %": round(100 * test["accuracy"], 2),
            "total parameters": int(final.record["parameters"]["total"]),
            "final training s": round(final.record["durations"]["final_training_seconds"], 1),
            "grid search s": round(final.grid_seconds, 1),
            "best (size, batch, lr)": (
                f"({final.image_size}, {final.record['config']['batch_size']}, "
                f"{final.record['config']['learning_rate']:g})"),
        }
    return pd.DataFrame(columns)


def comparison_table(finals: Mapping[str, FinalModel], note: str = "") -> pd.DataFrame:
    """Paper vs this run with the difference, one block of rows per backbone."""
    blocks = []
    for backbone, final in finals.items():
        test = final.test
        this_run = {
            "precision %": 100 * test["macro_precision"],
            "recall %": 100 * test["macro_recall"],
            "F1 %": 100 * test["macro_f1"],
            "total parameters": int(final.record["parameters"]["total"]),
            "final training s": final.record["durations"]["final_training_seconds"],
            "grid search s": final.grid_seconds,
        }
        paper = PAPER_FINAL.get(backbone, {key: None for key in this_run})
        block = compare_with_paper(paper, this_run, note=note).reset_index()
        block.insert(0, "backbone", display_name(backbone))
        blocks.append(block)
    table = pd.concat(blocks, ignore_index=True).set_index(["backbone", "quantity"])
    for column in ("paper", "this run", "difference"):
        table[column] = pd.to_numeric(table[column], errors="coerce").round(2)
    if note:
        table.attrs["note"] = note
    return table


# --------------------------------------------------------------------------- figures


def plot_summary(context, finals: Mapping[str, FinalModel]) -> dict:
    """Pie charts of parameters, grid and final training durations; a bar chart of test
    macro F1 beside the paper's. Saved under figures/ and returned by name."""
    note = context.note
    names = {backbone: display_name(backbone) for backbone in finals}
    parameters = {names[b]: f.record["parameters"]["total"] for b, f in finals.items()}
    grid_time = {names[b]: f.grid_seconds for b, f in finals.items()}
    final_time = {names[b]: f.record["durations"]["final_training_seconds"]
                  for b, f in finals.items()}
    f1 = {names[b]: 100 * f.test["macro_f1"] for b, f in finals.items()}
    paper_f1 = {names[b]: PAPER_FINAL[b]["F1 %"] for b in finals if b in PAPER_FINAL}
    return {
        "parameters_pie": plots.pie_chart(parameters, context.figure("parameters_pie"),
                                          title="total parameters", note=note),
        "grid_duration_pie": plots.pie_chart(grid_time, context.figure("grid_duration_pie"),
                                             title="grid search duration (s)", note=note),
        "final_duration_pie": plots.pie_chart(final_time, context.figure("final_duration_pie"),
                                              title="final training duration (s)", note=note),
        "test_f1_bar": plots.bar_chart(f1, context.figure("test_f1_bar"), ylabel="macro F1 %",
                                       title="test macro F1 of the final models",
                                       reference=paper_f1 or None, note=note),
    }


def plot_confusion_matrices(context, finals: Mapping[str, FinalModel]) -> dict:
    """One test-split confusion matrix per final model, saved and returned by backbone."""
    figures = {}
    for backbone, final in finals.items():
        figures[backbone] = plots.confusion_matrix(
            final.test["confusion_matrix"], final.test["class_names"],
            context.figure(f"confusion_{backbone}"),
            title=f"{display_name(backbone)}: test confusion matrix", note=context.note,
        )
    return figures


# --------------------------------------------------------------------------- out of distribution


def demo_ood_folder(destination) -> Path:
    """Real photos of things that are not clothing, from files every install has: the
    scikit-learn sample images (a Chinese temple, a flower) and matplotlib's sample
    photos (Grace Hopper, a present pack). Copied into ``destination`` at run time."""
    import matplotlib
    import sklearn.datasets

    sources = [
        Path(sklearn.datasets.__file__).parent / "images" / "china.jpg",
        Path(sklearn.datasets.__file__).parent / "images" / "flower.jpg",
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
        Path(matplotlib.get_data_path()) / "sample_data" / "Minduka_Present_Blue_Pack.png",
    ]
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    copied = 0
    for source in sources:
        if source.is_file():
            shutil.copyfile(source, destination / source.name)
            copied += 1
    if not copied:
        raise FileNotFoundError(
            "none of the sample photos of scikit-learn and matplotlib were found; pass a "
            "folder of photos as ood_dir"
        )
    return destination


def open_set_answers(probabilities, class_names: Sequence[str],
                     threshold: float | None) -> list:
    """The predicted class of each row, or ``"unknown"`` when the largest probability is
    below ``threshold`` (None or 0 answers a class always, as a closed-set classifier)."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(class_names):
        raise ValueError(
            f"probabilities must be (images, {len(class_names)}), got {probabilities.shape}"
        )
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"unknown_threshold must be between 0 and 1 (or None), got {threshold!r}")
    best = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    return [
        "unknown" if threshold and confidence[row] < float(threshold) else class_names[best[row]]
        for row in range(len(best))
    ]


def _image_paths(folder) -> list:
    from kerasbench.data.index import IMAGE_EXTENSIONS, natural_sorted

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"ood_dir {folder} is not a folder of photos")
    paths = natural_sorted(str(path) for path in folder.iterdir()
                           if path.suffix.lower() in IMAGE_EXTENSIONS
                           and not path.name.startswith("."))
    if not paths:
        raise FileNotFoundError(
            f"ood_dir {folder} holds no images (extensions {sorted(IMAGE_EXTENSIONS)})"
        )
    return paths


def predict_folder(model, folder, *, image_size: int, class_names: Sequence[str],
                   threshold: float | None = None, interpolation: str = "bilinear"
                   ) -> pd.DataFrame:
    """Predictions of ``model`` for every image in ``folder`` (file name order): the
    class, its probability, and the open-set answer (``"unknown"`` below ``threshold``)."""
    from kerasbench.features import ordered_outputs
    from kerasbench.runs import outputs_to_probabilities

    paths = _image_paths(folder)
    frame = pd.DataFrame({"path": paths})
    logits, _, _ = ordered_outputs(model, frame, image_size=int(image_size),
                                   batch_size=len(paths), interpolation=interpolation)
    probabilities = outputs_to_probabilities(logits, "logits")
    best = probabilities.argmax(axis=1)
    return pd.DataFrame({
        "image": [Path(path).name for path in paths],
        "predicted": [class_names[i] for i in best],
        "probability": probabilities.max(axis=1).round(4),
        "answer": open_set_answers(probabilities, class_names, threshold),
        "path": paths,
    })


def ood_table(finals: Mapping[str, FinalModel], folder, *, class_names: Sequence[str],
              threshold: float | None, interpolation: str = "bilinear") -> pd.DataFrame:
    """The paper's Table III shape: one row per photo, per backbone the closed-set class
    with its probability and the answer with the unknown threshold."""
    table = None
    for backbone, final in finals.items():
        predictions = predict_folder(final.model, folder, image_size=final.image_size,
                                     class_names=class_names, threshold=threshold,
                                     interpolation=interpolation)
        name = display_name(backbone)
        part = pd.DataFrame({
            "image": predictions["image"],
            f"{name} class (p)": [f"{c} ({p:.2f})" for c, p in
                                  zip(predictions["predicted"], predictions["probability"])],
            f"{name} answer": predictions["answer"],
        })
        table = part if table is None else table.merge(part, on="image")
    return table.set_index("image")


def plot_ood(context, folder, table: pd.DataFrame):
    """The photos with each backbone's answer under them."""
    from kerasbench.pipeline import load_image

    paths = _image_paths(folder)
    images = [load_image(path, image_size=160) for path in paths]
    answers = [column for column in table.columns if column.endswith(" answer")]
    captions = ["\n".join(f"{column[:-7]}: {table.loc[Path(path).name, column]}"
                          for column in answers) for path in paths]
    return plots.image_grid(images, captions, context.figure("ood_predictions"),
                            title="out-of-distribution photos", note=context.note,
                            columns=min(4, len(images)))


def save(context, frame: pd.DataFrame, name: str, index: bool = True) -> pd.DataFrame:
    """Save a table under tables/ with the data note, and return it for display."""
    save_table(frame, context.table(name), note=context.note, index=index)
    return frame


def timed(function, *args, **kwargs):
    """``(result, seconds)`` of one call, for the notebook's duration printouts."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start
