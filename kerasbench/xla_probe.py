"""The CPU XLA probe: is XLA (``jit_compile=True``) faster than the plain graph for a
training step on THIS CPU, at this image size, for this kind of backbone? Measured once
(a ladder of small convolutions shaped like a backbone's stages), then cached per CPU
model, flags, TensorFlow version, threads and environment. :func:`kerasbench.performance.
choose_policy` asks it; ``docs/performance.md`` explains why a constant cannot answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path

# XLA must beat the plain graph by this factor (train step, and train step + one forward
# pass together) before a CPU policy turns it on: timing noise on a busy machine stays
# well inside it, so a tie never flips the switch.
XLA_CPU_MARGIN = 1.25
# The probe's ladder: one 3x3 convolution per stage, at 1/stride of the image size with
# ResNet's widths; each stage of ResNet/VGG-style backbones carries a similar share of the
# arithmetic, so per-image times are summed with equal weight.
PROBE_STAGES = ((4, 64), (8, 128), (16, 256), (32, 512))
# Per backbone family: plain 3x3 convolutions (ResNet, VGG, DenseNet, Inception,
# SqueezeNet), or depthwise 3x3 + pointwise 1x1 (Xception, EfficientNet), whose CPU
# kernels and XLA lowering differ (BackboneSpec.convolution).
PROBE_CONVOLUTIONS = ("standard", "separable")
_PROBE_VERSION = 2
_probe_memory: dict[str, dict] = {}


PROBE_BATCH = 8


def probe_stages(image_size: int) -> list[tuple[int, int]]:
    """(feature-map size, channels) of each convolution the probe times."""
    return [(max(1, -(-int(image_size) // stride)), channels)
            for stride, channels in PROBE_STAGES]


def _cpu_signature() -> dict:
    import tensorflow as tf

    model, flags = platform.processor() or platform.machine(), []
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name") and ":" in line:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and ":" in line:
                    present = set(line.split(":", 1)[1].split())
                    flags = sorted(present & {"avx2", "fma", "avx512f", "avx512_bf16",
                                              "avx512_vnni", "amx_tile", "amx_bf16"})
                    break
    except OSError:
        pass
    return {"cpu": model, "flags": flags, "tensorflow": tf.__version__,
            "threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                        os.cpu_count()],
            "environment": {name: os.environ.get(name, "") for name in
                            ("TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "TF_XLA_FLAGS")}}


def _probe_cache_file() -> Path:
    root = os.environ.get("KERASBENCH_CACHE") or Path.home() / ".cache" / "kerasbench"
    return Path(root) / "xla_cpu_probe.json"


def _ladder_functions(stages, batch, convolution: str = "standard"):
    """(inputs, forward, train) for the probe's convolutions, all stages in one function:
    a 3x3 convolution per stage, or (``"separable"``) a depthwise 3x3 then a pointwise 1x1."""
    import numpy as np
    import tensorflow as tf

    if convolution not in PROBE_CONVOLUTIONS:
        raise ValueError(f"convolution must be one of {PROBE_CONVOLUTIONS}, got {convolution!r}")
    generator = np.random.default_rng(0)  # no TensorFlow random state is touched
    separable = convolution == "separable"
    inputs = []
    for size, channels in stages:
        inputs.append(tf.constant(generator.standard_normal((batch, size, size, channels),
                                                            np.float32)))
        shape = (3, 3, channels, 1) if separable else (3, 3, channels, channels)
        inputs.append(tf.constant(generator.standard_normal(shape, np.float32) * 0.05))
        if separable:
            inputs.append(tf.constant(generator.standard_normal((1, 1, channels, channels),
                                                                np.float32) * 0.05))
    step = 3 if separable else 2

    def stage(x, kernel, pointwise=None):
        if pointwise is None:
            return tf.nn.conv2d(x, kernel, 1, "SAME")
        return tf.nn.conv2d(tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "SAME"),
                            pointwise, 1, "SAME")

    def forward(*tensors):
        return [stage(*tensors[index:index + step]) for index in range(0, len(tensors), step)]

    def train(*tensors):
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            loss = tf.add_n([tf.reduce_sum(y * y) for y in forward(*tensors)])
        return tape.gradient(loss, tensors)

    return inputs, forward, train


def time_variants(functions: dict, inputs, repeats: int = 3) -> dict:
    """Best wall seconds of each function on ``inputs`` after a warm-up call (which
    traces, and for XLA compiles); calls alternate between the functions so that a busy
    moment hits all of them. Stops early once one is 3x faster than another."""
    import tensorflow as tf

    def call(function):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), function(*inputs))
        return time.perf_counter() - start

    for function in functions.values():
        call(function)
    best = {name: float("inf") for name in functions}
    for _ in range(max(1, repeats)):
        for name, function in functions.items():
            best[name] = min(best[name], call(function))
        if max(best.values()) > 3 * min(best.values()):
            break
    return best


def conv_step_timings(size: int, channels: int, batch: int = 32, repeats: int = 5) -> dict:
    """Milliseconds per call of one 3x3 ``channels -> channels`` convolution on a
    ``size x size`` map: forward and forward+backward, plain and XLA (the per-layer
    measurement of docs/performance.md)."""
    import tensorflow as tf

    inputs, forward, train = _ladder_functions([(size, channels)], batch)
    result = {}
    for name, function in (("forward", forward), ("train", train)):
        best = time_variants({jit: tf.function(function, jit_compile=jit)
                              for jit in (False, True)}, inputs, repeats)
        result[f"{name}_plain_ms"] = best[False] * 1e3
        result[f"{name}_xla_ms"] = best[True] * 1e3
    return result


def cpu_xla_probe(image_size: int, *, repeats: int = 3, refresh: bool = False,
                  convolution: str = "standard") -> dict:
    """Is XLA faster for training on this CPU at ``image_size`` for backbones built of
    ``convolution`` layers (``"standard"`` or ``"separable"``, the backbone's
    ``BackboneSpec.convolution``)? Measured, then cached.

    Times :func:`probe_stages` (one convolution per backbone stage, batch
    ``PROBE_BATCH``, all stages in one function) forward and forward+gradients, plain
    and ``jit_compile=True``; returns per-image milliseconds summed over the stages,
    ``use_xla`` (XLA beats plain by ``XLA_CPU_MARGIN`` for the
    train step and for train step + forward together) and a one-line ``reason``.
    Cached in memory and in ``$KERASBENCH_CACHE/xla_cpu_probe.json`` (default
    ``~/.cache/kerasbench``) under this CPU, its TensorFlow version, threads and XLA/oneDNN
    environment; ``refresh=True`` measures again. Two XLA compilations and a few
    calls: 2-5 s on this project's 2-core CPU.
    """
    if convolution not in PROBE_CONVOLUTIONS:
        raise ValueError(f"convolution must be one of {PROBE_CONVOLUTIONS}, got {convolution!r}")
    stages = probe_stages(image_size)
    key_data = {"version": _PROBE_VERSION, "stages": stages, "convolution": convolution,
                **_cpu_signature()}
    key = hashlib.sha1(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:16]
    cache_file = _probe_cache_file()
    if not refresh:
        if key in _probe_memory:
            return _probe_memory[key]
        try:
            stored = json.loads(cache_file.read_text()).get(key)
        except (OSError, ValueError):
            stored = None
        if stored is not None:
            _probe_memory[key] = stored
            return stored
    import tensorflow as tf

    total = {}
    try:
        inputs, forward, train = _ladder_functions(stages, PROBE_BATCH, convolution)
        for name, function in (("forward", forward), ("train", train)):
            best = time_variants({jit: tf.function(function, jit_compile=jit)
                                  for jit in (False, True)}, inputs, repeats)
            total[f"{name}_plain_ms"] = best[False] * 1e3 / PROBE_BATCH
            total[f"{name}_xla_ms"] = best[True] * 1e3 / PROBE_BATCH
    except Exception as error:  # noqa: BLE001 - no XLA on this build: the answer is "off"
        return {"image_size": int(image_size), "use_xla": False, "stages": stages,
                "convolution": convolution,
                "reason": f"CPU XLA probe failed ({type(error).__name__}); XLA off"}
    train_gain = total["train_plain_ms"] / total["train_xla_ms"]
    both_gain = ((total["train_plain_ms"] + total["forward_plain_ms"])
                 / (total["train_xla_ms"] + total["forward_xla_ms"]))
    use = train_gain >= XLA_CPU_MARGIN and both_gain >= XLA_CPU_MARGIN
    result = {
        "image_size": int(image_size), "stages": stages, "convolution": convolution,
        "batch": PROBE_BATCH, **total,
        "train_forward_ratio_plain": total["train_plain_ms"] / total["forward_plain_ms"],
        "train_forward_ratio_xla": total["train_xla_ms"] / total["forward_xla_ms"],
        "xla_train_speedup": train_gain, "xla_train_and_forward_speedup": both_gain,
        "use_xla": bool(use), "cpu": key_data["cpu"], "flags": key_data["flags"],
        "reason": (f"CPU probe at {int(image_size)} px ({convolution} convolutions): XLA "
                   f"train step {train_gain:.2f}x, "
                   f"train+forward {both_gain:.2f}x the plain graph's speed -> XLA "
                   f"{'on' if use else 'off'} (needs {XLA_CPU_MARGIN}x)"),
    }
    _probe_memory[key] = result
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            stored = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            stored = {}
        stored[key] = result
        temporary = cache_file.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(stored, indent=1))
        os.replace(temporary, cache_file)
    except OSError:
        pass  # a read-only home: the result still holds for this process
    return result


def _probe_result(probe, image_size, backbone: str):
    if os.environ.get("KERASBENCH_XLA_PROBE", "1").strip().lower() in ("0", "false", "no"):
        return {"use_xla": False, "reason": "CPU XLA probe disabled (KERASBENCH_XLA_PROBE=0)"}
    if isinstance(probe, dict):
        return probe
    if probe is not None:
        return probe(image_size)
    return cpu_xla_probe(image_size, convolution=_convolution_of(backbone))


def _convolution_of(backbone: str) -> str:
    """The registry's ``convolution`` of ``backbone``; "standard" for names it lacks."""
    from kerasbench.backbones import get_backbone

    try:
        return get_backbone(backbone).convolution
    except ValueError:
        return "standard"
