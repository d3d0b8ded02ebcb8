"""Performance policy: mixed precision, XLA, where augmentation runs, prefetching.

The policy is chosen per device and per backbone and recorded in every results row. On a
CPU mixed precision and device augmentation stay off (float32, augmentation in the tf.data
pipeline). XLA on a CPU is chosen by measurement only (:func:`cpu_xla_probe`): some CPUs
(AVX2 without AVX-512, TensorFlow 2.21) compute convolution gradients on small feature maps
10-40x slower than the forward pass, and XLA's kernels avoid that, while elsewhere XLA is
slower than TensorFlow's oneDNN kernels. ``choose_policy(backbone, image_size=...)`` times
one 3x3 convolution per backbone stage at that image size, plain and under XLA, and turns
XLA on only where it was clearly faster (``XLA_CPU_MARGIN``); without ``image_size``, or
with ``KERASBENCH_XLA_PROBE=0``, XLA stays off on a CPU. See ``docs/performance.md``.
On a GPU:

- mixed precision: ``mixed_bfloat16`` on compute capability 8.0+ (A100, L4, H100, H200),
  ``mixed_float16`` on 7.0-7.9 (V100, T4), off below (P100). Heads are built with float32
  outputs, and losses, softmax/sigmoid outputs and Siamese distances stay float32.
- XLA (``jit_compile``): on, except for backbones listed in ``XLA_KNOWN_FAILURES``.
- augmentation on the device: the augmentation layers run inside the model (on the GPU)
  instead of in ``tf.data`` on the host CPU.
- prefetching: ``tf.data`` prefetch with AUTOTUNE (always on; switchable for measurements).

Each part can be switched off: ``choose_policy(mixed_precision=False, jit_compile=False,
augment_on_device=False)``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field

from kerasbench.xla_probe import (  # noqa: F401 - re-exported: the policy's measurement
    PROBE_BATCH,
    PROBE_CONVOLUTIONS,
    PROBE_STAGES,
    XLA_CPU_MARGIN,
    _probe_result,
    conv_step_timings,
    cpu_xla_probe,
    probe_stages,
    time_variants,
)

# Backbones whose XLA compilation fails, with the reason; benchmarks/xla_check.py checks
# every registry backbone (compiles, same outputs, speed). On this project's CPU all 11
# compile and agree with the uncompiled graph to 2e-5 (2026-11-23); no GPU has been
# checked yet, so a failure found there belongs here.
XLA_KNOWN_FAILURES: dict[str, str] = {}

# Dense peak arithmetic rates in FLOP/s for common accelerators, by (substring of the
# device name, precision). Used for the "fraction of peak" column of the benchmark.
PEAK_FLOPS = {
    ("H200", "bfloat16"): 989e12,
    ("H100", "bfloat16"): 989e12,  # SXM; the PCIe card is about 756e12
    ("A100", "bfloat16"): 312e12,
    ("L4", "bfloat16"): 121e12,
    ("V100", "float16"): 125e12,
    ("T4", "float16"): 65e12,
    ("P100", "float32"): 9.3e12,
    ("H100", "float32"): 67e12,
    ("A100", "float32"): 19.5e12,
    ("T4", "float32"): 8.1e12,
}


@dataclass(frozen=True)
class PerformancePolicy:
    device: str
    mixed_precision: str | None  # keras dtype policy name, or None for float32
    jit_compile: bool
    augment_on_device: bool
    prefetch: bool = True
    # Why XLA is on or off (e.g. the CPU probe's numbers); not part of equality.
    xla_reason: str = field(default="", compare=False)

    @property
    def compute_dtype(self) -> str:
        if self.mixed_precision is None:
            return "float32"
        return self.mixed_precision.replace("mixed_", "")

    def to_dict(self) -> dict:
        return {**asdict(self), "compute_dtype": self.compute_dtype}

    @contextlib.contextmanager
    def scope(self):
        """Build models inside this block to get the policy's dtype; restores the previous
        global dtype policy afterwards."""
        import keras

        previous = keras.config.dtype_policy()
        if self.mixed_precision:
            keras.mixed_precision.set_global_policy(self.mixed_precision)
        try:
            yield self
        finally:
            keras.mixed_precision.set_global_policy(previous)


def device_description() -> dict:
    """``{"kind": "GPU"|"CPU", "name": ..., "compute_capability": (major, minor) or None}``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        import platform

        return {"kind": "CPU", "name": platform.processor() or platform.machine(),
                "compute_capability": None}
    details = tf.config.experimental.get_device_details(gpus[0])
    return {"kind": "GPU", "name": details.get("device_name", gpus[0].name),
            "compute_capability": details.get("compute_capability")}


def _resolve_switch(value, name: str) -> bool | None:
    if value in ("auto", None):
        return None
    if isinstance(value, bool):
        return value
    raise ValueError(f"{name} must be 'auto', True or False, got {value!r}")


def choose_policy(backbone: str | None = None, *, mixed_precision="auto", jit_compile="auto",
                  augment_on_device="auto", prefetch: bool = True,
                  device: dict | None = None, image_size: int | None = None,
                  probe=None) -> PerformancePolicy:
    """The fastest policy that keeps results unchanged on this device for this backbone.

    ``image_size`` lets a CPU decide XLA by measurement (:func:`cpu_xla_probe`, cached);
    ``probe`` replaces that measurement (a callable ``probe(image_size) -> dict`` with
    ``use_xla`` and ``reason``, or such a dict), for tests and for reusing a result.
    """
    device = device or device_description()
    on_gpu = device["kind"] == "GPU"
    capability = tuple(device.get("compute_capability") or (0, 0))

    wanted_precision = _resolve_switch(mixed_precision, "mixed_precision")
    precision = None
    if on_gpu and wanted_precision is not False:
        if capability >= (8, 0):
            precision = "mixed_bfloat16"
        elif capability >= (7, 0):
            precision = "mixed_float16"
    if wanted_precision is True and precision is None and not on_gpu:
        # Asked for explicitly on a CPU: bfloat16 runs there, slowly; honour the request.
        precision = "mixed_bfloat16"

    wanted_jit = _resolve_switch(jit_compile, "jit_compile")
    known_failure = (backbone or "") in XLA_KNOWN_FAILURES
    jit, reason = on_gpu and not known_failure, "GPU default" if on_gpu else "CPU default: off"
    if known_failure:
        reason = f"known XLA failure: {XLA_KNOWN_FAILURES[backbone]}"
    elif not on_gpu and wanted_jit is None and backbone and image_size and precision is None:
        result = _probe_result(probe, image_size, backbone)
        if result is not None:
            jit, reason = bool(result["use_xla"]), result["reason"]
    if wanted_jit is not None:
        jit, reason = wanted_jit, "set by the caller"

    wanted_device_augmentation = _resolve_switch(augment_on_device, "augment_on_device")
    device_augmentation = on_gpu if wanted_device_augmentation is None else wanted_device_augmentation
    return PerformancePolicy(device=f"{device['kind']}: {device['name']}",
                             mixed_precision=precision, jit_compile=bool(jit),
                             augment_on_device=bool(device_augmentation), prefetch=prefetch,
                             xla_reason=reason)


def forward_flops_per_image(model) -> int:
    """Multiply-add FLOPs (2 per MAC) of one image's forward pass through the convolution and
    dense layers of ``model`` (nested models included). Normalisation, activations and
    pooling are left out: they are a few percent of a CNN's arithmetic."""
    import keras

    total = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.Model):
            continue
        try:
            output_shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            continue
        spatial = 1
        for dimension in output_shape[1:-1]:
            spatial *= int(dimension or 1)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel_height, kernel_width, channels, multiplier = layer.kernel.shape
            total += 2 * spatial * kernel_height * kernel_width * channels * multiplier
        elif isinstance(layer, keras.layers.SeparableConv2D):
            kernel_height, kernel_width, channels, multiplier = layer.depthwise_kernel.shape
            total += 2 * spatial * kernel_height * kernel_width * channels * multiplier
            total += 2 * spatial * int(layer.pointwise_kernel.shape[-2]) * int(layer.pointwise_kernel.shape[-1])
        elif isinstance(layer, keras.layers.Conv2D):
            kernel_height, kernel_width, input_channels, filters = layer.kernel.shape
            groups = getattr(layer, "groups", 1) or 1
            total += 2 * spatial * kernel_height * kernel_width * input_channels * filters // groups
        elif isinstance(layer, keras.layers.Dense):
            inputs, units = layer.kernel.shape
            total += 2 * spatial * inputs * units
    return int(total)


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def peak_flops(device_name: str, compute_dtype: str) -> float | None:
    for (name, dtype), value in PEAK_FLOPS.items():
        if name in device_name and dtype == compute_dtype:
            return value
    return None


def measured_matmul_flops(size: int = 2048, repeats: int = 10, dtype: str = "float32",
                          rounds: int = 3) -> float:
    """A measured ceiling for devices without a known peak: FLOP/s of a square matmul, the
    best of ``rounds`` timed rounds (the first call and a busy moment would understate it).
    A measured rate, not a datasheet peak: a convolution can beat it, so a "fraction of
    peak" above 1 is possible on such a device."""

    import tensorflow as tf

    matrix = tf.random.uniform((size, size), dtype=tf.float32)
    matrix = tf.cast(matrix / size, dtype)  # scaled so that repeated products stay finite
    product = tf.linalg.matmul(matrix, matrix)  # warm-up
    _ = product.numpy()
    best = 0.0
    for _ in range(int(rounds)):
        start = time.perf_counter()
        for _ in range(repeats):
            product = tf.linalg.matmul(matrix, product)
        _ = product.numpy()
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start))
    return best


def with_device_augmentation(model, augmentation, xla_compatible: bool = False):
    """``model`` preceded by the augmentation layers, so augmentation runs where the model
    runs (the GPU) instead of in the host's tf.data pipeline. The layers are active only in
    training, so evaluation and prediction see the images unchanged."""
    import keras

    inputs = keras.Input(model.input_shape[1:], name="image")
    augmented = augmentation.as_sequential(xla_compatible=xla_compatible)(inputs)
    outputs = model(augmented)
    return keras.Model(inputs, outputs, name=f"{model.name}_augmented")
