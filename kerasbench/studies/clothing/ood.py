"""Photos that are not clothing, shown to the final models (the paper's Table III).

A closed-set classifier must answer one of its classes, so the paper's models called an
apple, a car or a cat clothing. Here each final model (rebuilt from its record and saved
head) answers for every photo of a folder, with an optional ``"unknown"`` answer when its
top probability is below a threshold (an addition; the paper's models always answer).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord
from kerasbench.studies.clothing.finals import load_final_model
from kerasbench.studies.clothing.paper import display_name


def demo_ood_folder(destination) -> Path:
    """Real photos of things that are not clothing, from files every install has: the
    scikit-learn sample images (a Chinese temple, a flower) and matplotlib's sample
    photos (Grace Hopper, a present pack). Copied into ``destination``."""
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
        raise FileNotFoundError("none of the sample photos of scikit-learn and matplotlib were "
                                "found; pass a folder of photos as ood_dir")
    return destination


def open_set_answers(probabilities, class_names: Sequence[str],
                     threshold: float | None) -> list:
    """The predicted class of each row, or ``"unknown"`` when the largest probability is
    below ``threshold`` (None or 0 answers a class always, as a closed-set classifier)."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(class_names):
        raise ValueError(f"probabilities must be (images, {len(class_names)}), got "
                         f"{probabilities.shape}")
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ConfigError(f"unknown_threshold must be between 0 and 1 (or None), got "
                          f"{threshold!r}")
    best = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    return ["unknown" if threshold and confidence[row] < float(threshold)
            else class_names[best[row]] for row in range(len(best))]


def image_paths(folder) -> list[str]:
    from kerasbench.data.index import IMAGE_EXTENSIONS, natural_sorted

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"ood_dir {folder} is not a folder of photos")
    paths = natural_sorted(str(path) for path in folder.iterdir()
                           if path.suffix.lower() in IMAGE_EXTENSIONS
                           and not path.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"ood_dir {folder} holds no images (extensions "
                                f"{sorted(IMAGE_EXTENSIONS)})")
    return paths


def predict_folder(model, folder, *, image_size: int, class_names: Sequence[str],
                   threshold: float | None = None, interpolation: str = "bilinear"
                   ) -> pd.DataFrame:
    """Predictions of ``model`` for every image in ``folder`` (file name order): the
    class, its probability, and the open-set answer (``"unknown"`` below ``threshold``)."""
    from kerasbench.engine.evaluation import outputs_to_probabilities
    from kerasbench.engine.feature_models import ordered_outputs

    paths = image_paths(folder)
    logits, _, _ = ordered_outputs(model, pd.DataFrame({"path": paths}),
                                   image_size=int(image_size), batch_size=len(paths),
                                   interpolation=interpolation)
    probabilities = outputs_to_probabilities(logits, "logits")
    best = probabilities.argmax(axis=1)
    return pd.DataFrame({
        "image": [Path(path).name for path in paths],
        "predicted": [class_names[i] for i in best],
        "probability": probabilities.max(axis=1).round(4),
        "answer": open_set_answers(probabilities, class_names, threshold),
        "path": paths,
    })


def ood_table(records: Sequence[RunRecord], context, folder, *, threshold: float | None,
              save: bool = True) -> pd.DataFrame:
    """One row per photo; per backbone's final model (of its first seed, when there are
    several) the closed-set class with its probability and the answer with the unknown
    threshold. Saved as ``ood_predictions``."""
    table = None
    first: dict[str, RunRecord] = {}
    for record in records:
        if record.experiment != "final":
            continue
        backbone = record.config["backbone"]
        if backbone not in first or record.config["seed"] < first[backbone].config["seed"]:
            first[backbone] = record
    for record in first.values():
        config = record.config
        predictions = predict_folder(
            load_final_model(record, context.output_dir), folder,
            image_size=config["image_size"], class_names=record.extra["class_names"],
            threshold=threshold, interpolation=config["interpolation"])
        name = display_name(config["backbone"])
        part = pd.DataFrame({
            "image": predictions["image"],
            f"{name} class (p)": [f"{c} ({p:.2f})" for c, p in
                                  zip(predictions["predicted"], predictions["probability"])],
            f"{name} answer": predictions["answer"],
        })
        table = part if table is None else table.merge(part, on="image")
    if table is None:
        raise ConfigError("no final model among the records: run the study first")
    table = table.set_index("image")
    if save:
        context.save_table(table, "ood_predictions", index=True)
    return table


def ood_figure(context, folder, table: pd.DataFrame) -> Path:
    """The photos with each final model's answer under them (``figures/ood_predictions``)."""
    import matplotlib.pyplot as plt

    from kerasbench import plots
    from kerasbench.pipeline import load_image

    paths = image_paths(folder)
    images = [load_image(path, image_size=160) for path in paths]
    answers = [column for column in table.columns if column.endswith(" answer")]
    captions = ["\n".join(f"{column[:-len(' answer')]}: {table.loc[Path(path).name, column]}"
                          for column in answers) for path in paths]
    path = context.figure("ood_predictions")
    plt.close(plots.image_grid(images, captions, path, title="out-of-distribution photos",
                               note=context.note, columns=min(4, len(images))))
    return path
