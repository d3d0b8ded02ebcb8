"""Training and inference throughput per backbone, image size, batch size and policy.

Images per second are measured on synthetic batches that already sit on the device (so the
number is the model's, not the input pipeline's), after warm-up steps that absorb tracing
and XLA compilation. The arithmetic fraction of peak is ``FLOPs per image x images per
second / peak``, with FLOPs counted from the model (``forward_flops_per_image``; a training
step is counted as three forward passes: forward, and two matrix products per layer in the
backward pass). ``train_forward_ratio`` is the time of one training image over the time of
one forward image under the same policy: about 3 by the arithmetic; far above 3 means the
backward kernels are the bottleneck (``docs/performance.md``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from kerasbench.performance import (
    PerformancePolicy,
    choose_policy,
    forward_flops_per_image,
    measured_matmul_flops,
    peak_flops,
)

MODES = ("train", "forward")


def _synthetic_batch(batch_size: int, image_size: int, num_classes: int, seed: int = 0):
    import tensorflow as tf

    generator = np.random.default_rng(seed)
    images = generator.uniform(0, 255, size=(batch_size, image_size, image_size, 3)).astype("float32")
    labels = generator.integers(0, num_classes, size=(batch_size,)).astype("int32")
    return tf.constant(images), tf.constant(labels)


def measure(backbone: str, image_size: int, batch_size: int, mode: str,
            policy: PerformancePolicy, *, steps: int = 10, warmup_steps: int = 2,
            num_classes: int = 10) -> dict:
    """One measurement: images/s of full fine-tuning (``train``) or of frozen forward passes
    (``forward``) under ``policy``: the batch size over the MEDIAN time of ``steps`` single
    steps, each waited for, after ``warmup_steps`` (tracing, XLA compilation, oneDNN
    primitive creation). The median, not the total, so that a moment when another process
    takes the cores does not decide the figure on a shared machine."""
    import keras
    import tensorflow as tf

    from kerasbench.heads import build_classifier

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if steps < 1 or warmup_steps < 1:
        raise ValueError("steps and warmup_steps must be at least 1")
    keras.backend.clear_session()
    with policy.scope():
        model = build_classifier(backbone, num_classes, image_size=image_size, weights=None,
                                 head="logits", trainable="all" if mode == "train" else "frozen")
    images, labels = _synthetic_batch(batch_size, image_size, num_classes)
    if mode == "train":
        model.compile(optimizer=keras.optimizers.SGD(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=policy.jit_compile)

        def run_step():
            model.train_on_batch(images, labels)  # returns host floats: waits for the step
    else:
        forward = tf.function(lambda batch: model(batch, training=False),
                              jit_compile=policy.jit_compile)

        def run_step():
            forward(images).numpy()  # wait for the device to finish
    for _ in range(warmup_steps):
        run_step()
    step_seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        run_step()
        step_seconds.append(time.perf_counter() - start)
    images_per_second = batch_size / float(np.median(step_seconds))
    flops_per_image = forward_flops_per_image(model) * (3 if mode == "train" else 1)
    return {
        "backbone": backbone, "image_size": image_size, "batch_size": batch_size, "mode": mode,
        "mixed_precision": policy.mixed_precision or "off", "jit_compile": policy.jit_compile,
        "images_per_second": images_per_second, "gflops_per_image": flops_per_image / 1e9,
        "achieved_tflops": flops_per_image * images_per_second / 1e12,
        "device": policy.device, "compute_dtype": policy.compute_dtype,
    }


# Named policy variants for the benchmark; "best" is the device's choice, the others force
# switches (on a CPU, too, to see what each would do there).
VARIANTS = {
    "best": {},
    "off": {"mixed_precision": False, "jit_compile": False, "augment_on_device": False},
    "mixed": {"mixed_precision": True, "jit_compile": False},
    "xla": {"mixed_precision": False, "jit_compile": True},
    "mixed+xla": {"mixed_precision": True, "jit_compile": True},
}


def policy_variants(backbone: str, variants: Sequence[str] = ("best", "off"),
                    image_size: int | None = None) -> list[PerformancePolicy]:
    """The policies named by ``variants`` (keys of ``VARIANTS``), without duplicates.

    "best" is :func:`choose_policy`'s choice at ``image_size`` (on a CPU: XLA only where
    the cached probe measured it faster, so usually the same as "off", and then measured
    once)."""
    return [policy for _, policy in named_policy_variants(backbone, variants, image_size)]


def named_policy_variants(backbone: str, variants: Sequence[str] = ("best", "off"),
                          image_size: int | None = None) -> list[tuple[str, PerformancePolicy]]:
    """``(names, policy)`` pairs; names joins the variants that gave the same policy."""
    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown policy variants {unknown}; known: {sorted(VARIANTS)}")
    named: list[tuple[str, PerformancePolicy]] = []
    for name in variants:
        policy = choose_policy(backbone, image_size=image_size, **VARIANTS[name])
        for index, (names, known) in enumerate(named):
            if known == policy:
                named[index] = (f"{names}={name}", known)
                break
        else:
            named.append((name, policy))
    return named


def run_benchmark(backbones: Sequence[str], image_sizes: Iterable[int], batch_sizes: Iterable[int],
                  modes: Iterable[str] = MODES, *, steps: int = 10, warmup_steps: int = 2,
                  variants: Sequence[str] = ("best", "off")) -> pd.DataFrame:
    """The full table: one row per (backbone, size, batch, mode, policy)."""
    rows = []
    peaks: dict[tuple, tuple[float, str]] = {}
    for backbone, image_size, batch_size, mode in itertools.product(
        backbones, image_sizes, batch_sizes, modes
    ):
        for names, policy in named_policy_variants(backbone, variants, image_size):
            row = {"variant": names,
                   **measure(backbone, image_size, batch_size, mode, policy, steps=steps,
                             warmup_steps=warmup_steps),
                   "xla_reason": policy.xla_reason}
            key = (policy.device, policy.compute_dtype)
            if key not in peaks:
                known = peak_flops(policy.device, policy.compute_dtype)
                peaks[key] = ((known, "datasheet") if known is not None
                              else (measured_matmul_flops(dtype=policy.compute_dtype),
                                    f"measured {policy.compute_dtype} matmul"))
            peak, peak_source = peaks[key]
            row["peak_tflops"] = peak / 1e12
            row["peak_source"] = peak_source
            row["fraction_of_peak"] = row["achieved_tflops"] * 1e12 / peak
            rows.append(row)
    return with_train_forward_ratio(pd.DataFrame(rows))


def with_train_forward_ratio(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``train_forward_ratio`` (forward images/s over train images/s, same backbone,
    size, batch and policy) to the train rows; NaN where either mode is missing."""
    table = table.copy()
    table["train_forward_ratio"] = np.nan
    keys = ["backbone", "image_size", "batch_size", "variant"]
    if table.empty or not set(keys) <= set(table.columns):
        return table
    forward = table[table["mode"] == "forward"].set_index(keys)["images_per_second"]
    for index, row in table[table["mode"] == "train"].iterrows():
        key = tuple(row[k] for k in keys)
        if key in forward.index:
            table.loc[index, "train_forward_ratio"] = forward.loc[key] / row["images_per_second"]
    return table


def check_xla(backbone: str, image_size: int | None = None, *, batch_size: int = 4,
              steps: int = 3) -> dict:
    """Does ``backbone`` compile under XLA, compute the same outputs, and run faster?

    Builds the backbone's classifier (random weights, inference mode), runs one batch with
    and without ``jit_compile``, and times ``steps`` further calls of each. The first call
    of each includes tracing (and for XLA compiling): reported as ``first_call_s``."""
    import keras
    import tensorflow as tf

    from kerasbench.backbones import get_backbone
    from kerasbench.heads import build_classifier

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    spec = get_backbone(backbone)
    size = int(image_size or spec.min_size)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build_classifier(spec.name, 3, image_size=size, weights=None, head="logits",
                             trainable="frozen")
    images, _ = _synthetic_batch(batch_size, size, 3)
    row = {"backbone": spec.name, "image_size": size, "batch_size": batch_size}
    outputs = {}
    for name, jit in (("plain", False), ("xla", True)):
        step = tf.function(lambda batch: model(batch, training=False), jit_compile=jit)
        try:
            start = time.perf_counter()
            outputs[name] = step(images).numpy()
            row[f"{name}_first_call_s"] = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(steps):
                result = step(images)
            result.numpy()
            row[f"{name}_images_per_second"] = batch_size * steps / (time.perf_counter() - start)
        except Exception as error:  # XLA refuses some ops; the row says which and why
            row["compiles"] = False
            first_line = (str(error).splitlines() or [""])[0]
            row["error"] = f"{name}: {type(error).__name__}: {first_line[:200]}"
            return row
    row["compiles"] = True
    row["error"] = ""
    row["max_abs_difference"] = float(np.abs(outputs["xla"] - outputs["plain"]).max())
    row["xla_speedup"] = row["xla_images_per_second"] / row["plain_images_per_second"]
    return row


def input_rate(frame: pd.DataFrame, image_size: int, batch_size: int, *,
               passes: int = 2) -> float:
    """Images/s that :func:`kerasbench.pipeline.make_dataset` (no cache, no augmentation:
    every file decoded and resized) delivers for ``frame`` on this machine's CPUs, the best
    of ``passes`` full passes (the first also traces). Beside a model's training rate it
    says which of the two bounds a training."""
    from kerasbench.pipeline import make_dataset

    if passes < 1:
        raise ValueError(f"passes must be at least 1, got {passes!r}")
    dataset = make_dataset(frame, image_size=int(image_size), batch_size=int(batch_size),
                           label_mode="int" if "label" in frame.columns else None)
    best = 0.0
    for _ in range(int(passes)):
        start = time.perf_counter()
        count = sum(int((batch[0] if isinstance(batch, tuple) else batch).shape[0])
                    for batch in dataset)
        best = max(best, count / (time.perf_counter() - start))
    return best


def with_input_rates(table: pd.DataFrame, frame: pd.DataFrame, *,
                     passes: int = 2) -> pd.DataFrame:
    """Add ``input_images_per_second`` (every file decoded and resized: a first epoch, or
    an uncached pipeline) and ``bound`` ("input" where the pipeline delivers fewer images
    per second than the training step consumes, else "compute") to the train rows."""
    table = table.copy()
    table["input_images_per_second"] = np.nan
    table["bound"] = None
    rates: dict[tuple, float] = {}
    for index, row in table[table["mode"] == "train"].iterrows():
        key = (int(row["image_size"]), int(row["batch_size"]))
        if key not in rates:
            rates[key] = input_rate(frame, *key, passes=passes)
        table.loc[index, "input_images_per_second"] = rates[key]
        table.loc[index, "bound"] = ("input" if rates[key] < row["images_per_second"]
                                     else "compute")
    return table
