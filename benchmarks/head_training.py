"""Head training on cached features: Keras ``fit`` on a host ``tf.data`` pipeline versus
the device-resident loop (``kerasbench.engine.device_loop``), in one process, on the same data.

Each path trains the clothing protocol's head (``Dense(classes)``, Adam, cross-entropy
from logits) for every (batch size, learning rate) of the grid, with the same seeded row
order per epoch and validation after each epoch. Prints each path's wall time, the ratio,
and the largest difference in the per-epoch losses (the two must compute the same thing).

    .venv/bin/python benchmarks/head_training.py                    # clothing-sized defaults
    .venv/bin/python benchmarks/head_training.py --rows 500 --epochs 2

Features are synthetic (a seeded Gaussian mixture with one centre per class) of the
shape a backbone's pooled features have (EfficientNetB7: 2560). Writes the per-trial table
to results/benchmarks/head_training.{csv,md}.
"""

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from kerasbench.engine.device_loop import fit_head_on_device  # noqa: E402
from kerasbench.engine.feature_models import build_head_model, prepare_head  # noqa: E402
from kerasbench.engine.fitting import epoch_order, standard_callbacks  # noqa: E402
from kerasbench.io import write_csv_atomic, write_text_atomic  # noqa: E402
from kerasbench.performance import device_description  # noqa: E402


def synthetic_features(rows: Sequence[int], dimension: int, classes: int, seed: int):
    """One (features, labels) pair per entry of ``rows``, all drawn around the same
    class centres (non-negative, as pooled ReLU features are)."""
    generator = np.random.default_rng(seed)
    centres = generator.normal(size=(classes, dimension)).astype("float32")
    splits = []
    for count in rows:
        labels = generator.integers(0, classes, size=count)
        noise = 2.0 * generator.normal(size=(count, dimension)).astype("float32")
        splits.append((np.maximum(centres[labels] + noise, 0).astype("float32"),
                       labels.astype("int64")))
    return splits


def keras_fit(model, features, labels, validation, *, epochs, batch_size, seed):
    """The host pipeline: one tf.data dataset of the epochs' batches, one ``fit`` call,
    with the same standard callbacks as the device loop."""
    import tensorflow as tf

    rows = len(labels)
    dataset = None
    for epoch in range(epochs):
        order = epoch_order(rows, seed, epoch)
        part = tf.data.Dataset.from_tensor_slices(
            (features[order], labels[order].astype("int32"))).batch(batch_size)
        dataset = part if dataset is None else dataset.concatenate(part)
    validation_dataset = tf.data.Dataset.from_tensor_slices(
        (validation[0], validation[1].astype("int32"))).batch(batch_size)
    fitted = model.fit(dataset, validation_data=validation_dataset, epochs=epochs,
                       steps_per_epoch=-(-rows // batch_size), shuffle=False, verbose=0,
                       callbacks=standard_callbacks())
    return fitted.history


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="training rows")
    parser.add_argument("--validation-rows", type=int, default=500)
    parser.add_argument("--dimension", type=int, default=2560)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 48, 64])
    parser.add_argument("--learning-rates", nargs="+", type=float, default=[0.01, 0.001, 0.0001])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", default=str(REPO_ROOT / "results/benchmarks/head_training"))
    arguments = parser.parse_args(argv)

    (features, labels), validation = synthetic_features(
        [arguments.rows, arguments.validation_rows], arguments.dimension, arguments.classes,
        arguments.seed)
    device = device_description()
    print(f"device: {device['kind']}: {device['name']}; {arguments.rows} x "
          f"{arguments.dimension} features, {arguments.classes} classes, "
          f"{len(arguments.batches) * len(arguments.learning_rates)} trials x "
          f"{arguments.epochs} epochs", flush=True)

    # One head model per path, reset per trial, as the grid does: traced functions are
    # reused across trials on both paths.
    models = {name: build_head_model(arguments.dimension, arguments.classes, arguments.seed)
              for name in ("keras fit", "device loop")}
    rows, totals = [], {"keras fit": 0.0, "device loop": 0.0}
    for batch_size in arguments.batches:
        for learning_rate in arguments.learning_rates:
            histories, seconds = {}, {}
            for name, model in models.items():
                prepare_head(model, learning_rate)
                start = time.perf_counter()
                if name == "keras fit":
                    histories[name] = keras_fit(model, features, labels, validation,
                                                epochs=arguments.epochs, batch_size=batch_size,
                                                seed=arguments.seed)
                else:
                    histories[name] = fit_head_on_device(
                        model, features, labels, epochs=arguments.epochs,
                        batch_size=batch_size,
                        order_of_epoch=lambda epoch: epoch_order(arguments.rows, arguments.seed,
                                                                 epoch),
                        validation=validation, callbacks=standard_callbacks())
                seconds[name] = time.perf_counter() - start
                totals[name] += seconds[name]
            loss_gap = max(abs(a - b) for a, b in zip(histories["keras fit"]["loss"],
                                                      histories["device loop"]["loss"]))
            rows.append({"batch_size": batch_size, "learning_rate": learning_rate,
                         "keras_fit_s": seconds["keras fit"],
                         "device_loop_s": seconds["device loop"],
                         "speedup": seconds["keras fit"] / seconds["device loop"],
                         "final_val_loss": histories["device loop"]["val_loss"][-1],
                         "max_loss_difference": loss_gap})
    table = pd.DataFrame(rows)
    ratio = totals["keras fit"] / totals["device loop"]
    largest_gap = float(table["max_loss_difference"].max())
    print(table.round(5).to_markdown(index=False))
    print(f"keras fit {totals['keras fit']:.2f} s, device loop {totals['device loop']:.2f} s: "
          f"{ratio:.1f}x; largest per-epoch loss difference {largest_gap:.2e}", flush=True)
    output = Path(arguments.output)
    note = f"device: {device['kind']}: {device['name']}; ratio {ratio:.2f}x"
    write_csv_atomic(output.with_suffix(".csv"), table)
    write_text_atomic(output.with_suffix(".md"), f"_{note}_\n\n{table.to_markdown(index=False)}\n")
    return 0 if largest_gap <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
