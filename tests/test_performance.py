import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kerasbench.performance import (
    choose_policy,
    device_description,
    forward_flops_per_image,
    peak_flops,
)
from kerasbench.throughput import run_benchmark

CPU = {"kind": "CPU", "name": "x86_64", "compute_capability": None}
H100 = {"kind": "GPU", "name": "NVIDIA H100 80GB HBM3", "compute_capability": (9, 0)}
T4 = {"kind": "GPU", "name": "Tesla T4", "compute_capability": (7, 5)}
P100 = {"kind": "GPU", "name": "Tesla P100-PCIE-16GB", "compute_capability": (6, 0)}


def test_cpu_policy_changes_nothing_without_a_measurement():
    policy = choose_policy("resnet50", device=CPU)
    assert policy.mixed_precision is None and policy.compute_dtype == "float32"
    assert not policy.jit_compile and not policy.augment_on_device


FASTER = {"use_xla": True, "reason": "probe: XLA 10x"}
SLOWER = {"use_xla": False, "reason": "probe: XLA 0.2x"}


def test_cpu_xla_follows_the_probe_only():
    calls = []

    def probe(image_size):
        calls.append(image_size)
        return FASTER

    policy = choose_policy("resnet50", device=CPU, image_size=32, probe=probe)
    assert policy.jit_compile and policy.xla_reason == "probe: XLA 10x" and calls == [32]
    assert policy.to_dict()["xla_reason"] == "probe: XLA 10x"
    assert not choose_policy("resnet50", device=CPU, image_size=32, probe=SLOWER).jit_compile
    # No backbone or no size: nothing to measure, so off; the caller's switch wins.
    assert not choose_policy(device=CPU, image_size=32, probe=probe).jit_compile
    assert not choose_policy("resnet50", device=CPU, probe=probe).jit_compile
    assert not choose_policy("resnet50", device=CPU, image_size=32, probe=probe,
                             jit_compile=False).jit_compile
    assert calls == [32]
    # Equality ignores the reason, so benchmark variants that agree are measured once.
    assert choose_policy("resnet50", device=CPU, image_size=32, probe=FASTER) == choose_policy(
        "resnet50", device=CPU, jit_compile=True)


def test_probe_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("KERASBENCH_XLA_PROBE", "0")
    policy = choose_policy("resnet50", device=CPU, image_size=32, probe=FASTER)
    assert not policy.jit_compile and "KERASBENCH_XLA_PROBE" in policy.xla_reason


def test_cpu_xla_probe_measures_and_caches(tmp_path, monkeypatch):
    from kerasbench import performance, xla_probe

    monkeypatch.setenv("KERASBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(xla_probe, "_probe_memory", {})
    monkeypatch.setattr(xla_probe, "PROBE_STAGES", ((4, 8), (8, 16)))
    result = xla_probe.cpu_xla_probe(16, repeats=1)
    assert result["stages"] == [[4, 8], [2, 16]] or result["stages"] == [(4, 8), (2, 16)]
    for name in ("forward_plain_ms", "forward_xla_ms", "train_plain_ms", "train_xla_ms"):
        assert result[name] > 0
    gain = result["train_plain_ms"] / result["train_xla_ms"]
    assert result["use_xla"] == (gain >= performance.XLA_CPU_MARGIN
                                 and result["xla_train_and_forward_speedup"]
                                 >= performance.XLA_CPU_MARGIN)
    assert "px" in result["reason"]
    cached = json.loads((tmp_path / "xla_cpu_probe.json").read_text())
    assert list(cached.values())[0]["reason"] == result["reason"]
    monkeypatch.setattr(xla_probe, "_probe_memory", {})
    monkeypatch.setattr(xla_probe, "_ladder_functions", None)  # would fail if re-measured
    assert xla_probe.cpu_xla_probe(16)["reason"] == result["reason"]


def test_probe_is_per_backbone_family_and_size(tmp_path, monkeypatch):
    """Xception and EfficientNet are probed with depthwise + pointwise convolutions, the
    others with plain ones; each (family, size) is measured once and cached apart."""
    from kerasbench import xla_probe

    monkeypatch.setenv("KERASBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(xla_probe, "_probe_memory", {})
    monkeypatch.setattr(xla_probe, "PROBE_STAGES", ((4, 8), (8, 16)))
    asked = []
    real = xla_probe.cpu_xla_probe
    monkeypatch.setattr(xla_probe, "cpu_xla_probe", lambda size, **options: asked.append(
        (size, options["convolution"])) or real(size, repeats=1, **options))
    for backbone in ("xception", "efficientnetb7", "resnet50", "vgg19"):
        policy = choose_policy(backbone, device=CPU, image_size=16)
        assert "px (" in policy.xla_reason
    assert asked == [(16, "separable"), (16, "separable"), (16, "standard"), (16, "standard")]
    cached = json.loads((tmp_path / "xla_cpu_probe.json").read_text())
    assert sorted(entry["convolution"] for entry in cached.values()) == ["separable", "standard"]
    separable = next(entry for entry in cached.values() if entry["convolution"] == "separable")
    assert "separable convolutions" in separable["reason"] and separable["train_plain_ms"] > 0
    with pytest.raises(ValueError, match="convolution must be one of"):
        xla_probe.cpu_xla_probe(16, convolution="dilated", refresh=True)


@pytest.mark.parametrize("device, expected", [(H100, "mixed_bfloat16"), (T4, "mixed_float16"),
                                              (P100, None)])
def test_gpu_policy_by_compute_capability(device, expected):
    policy = choose_policy("resnet50", device=device)
    assert policy.mixed_precision == expected
    assert policy.jit_compile and policy.augment_on_device


def test_each_switch_can_be_turned_off():
    policy = choose_policy("resnet50", device=H100, mixed_precision=False, jit_compile=False,
                           augment_on_device=False)
    assert policy.mixed_precision is None and not policy.jit_compile
    assert not policy.augment_on_device
    with pytest.raises(ValueError, match="jit_compile"):
        choose_policy(jit_compile="yes", device=CPU)


def test_policy_scope_restores_global_dtype():
    import keras

    policy = choose_policy(device=H100)
    with policy.scope():
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        layer = keras.layers.Dense(2)
        layer.build((None, 3))
        assert layer.compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"


def test_flops_count_matches_hand_count():
    import keras

    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 2*64*9*3*4 = 13824
    features = keras.layers.DepthwiseConv2D(3, padding="same")(features)  # 2*64*9*4 = 4608
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(5)(pooled)  # 2*4*5 = 40
    assert forward_flops_per_image(keras.Model(inputs, outputs)) == 13824 + 4608 + 40


def test_peak_table_lookup():
    assert peak_flops("NVIDIA H100 80GB HBM3", "bfloat16") == pytest.approx(989e12)
    assert peak_flops("some cpu", "float32") is None


def test_benchmark_runs_on_a_tiny_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASBENCH_CACHE", str(tmp_path))
    table = run_benchmark(["squeezenet1_1"], [48], [4], steps=1, warmup_steps=1)
    assert set(table["mode"]) == {"train", "forward"}
    train = table[table["mode"] == "train"]
    assert (train["train_forward_ratio"] > 0).all()
    assert table[table["mode"] == "forward"]["train_forward_ratio"].isna().all()
    assert (table["images_per_second"] > 0).all()
    assert (table["fraction_of_peak"] > 0).all()
    assert table["gflops_per_image"].iloc[0] > 0
    assert set(table["peak_source"]) == {"measured float32 matmul"}  # no datasheet peak: a CPU


def test_benchmark_script_writes_its_table(tmp_path):
    from PIL import Image

    output = tmp_path / "throughput"
    images = tmp_path / "images"
    for label in range(2):
        (images / f"class{label}").mkdir(parents=True)
        for number in range(3):
            pixels = np.random.default_rng(number).integers(0, 256, (60, 80, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(images / f"class{label}" / f"{number}.jpg")
    completed = subprocess.run(
        [sys.executable, "benchmarks/throughput.py", "--backbones", "squeezenet1_1", "--sizes",
         "48", "--batches", "2", "--steps", "1", "--warmup-steps", "1", "--output", str(output),
         "--input", str(images)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "KERASBENCH_CACHE": str(tmp_path)},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "images_per_second" in completed.stdout
    assert "train/forward time ratio squeezenet1_1@48" in completed.stdout
    assert "[xla]" in completed.stdout
    # The input pipeline's rate beside the training rate, and which bounds the step.
    assert "input rate: make_dataset over 6 files" in completed.stdout
    assert re.search(r"squeezenet1_1@48 batch 2 \[.*\]: trains [\d.]+ images/s, input "
                     r"delivers [\d.]+: (input|compute)-bound", completed.stdout)
    table = pd.read_csv(output.with_suffix(".csv"))
    train_rows = table[table["mode"] == "train"]
    assert (train_rows["input_images_per_second"] > 0).all()
    assert set(train_rows["bound"]) <= {"input", "compute"}
    if device_description()["kind"] == "CPU":
        assert "XLA choice: CPU probe at 48 px" in completed.stdout
    assert output.with_suffix(".csv").exists()


@pytest.mark.skipif(device_description()["kind"] != "GPU", reason="needs a GPU (mixed precision check)")
def test_mixed_precision_keeps_accuracy_on_gpu():
    """On a GPU, a tiny model trained under mixed precision reaches the float32 accuracy
    within 0.05 (stated tolerance)."""
    import keras

    generator = np.random.default_rng(0)
    features = generator.normal(size=(512, 16)).astype("float32")
    labels = (features[:, 0] + features[:, 1] > 0).astype("int32")

    def train(policy):
        keras.utils.set_random_seed(0)
        with policy.scope():
            model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"),
                                      keras.layers.Dense(2, dtype="float32")])
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        model.fit(features, labels, epochs=20, verbose=0)
        return model.evaluate(features, labels, verbose=0)[1]

    mixed = train(choose_policy())
    plain = train(choose_policy(mixed_precision=False, jit_compile=False))
    assert abs(mixed - plain) <= 0.05


def test_xla_check_compiles_a_small_backbone():
    from kerasbench.throughput import check_xla

    with pytest.raises(ValueError, match="steps"):
        check_xla("squeezenet1_1", 32, steps=0)
    row = check_xla("squeezenet1_1", 32, batch_size=2, steps=1)
    assert row["compiles"], row["error"]
    # XLA may fuse and reorder; the logits agree to float32 round-off.
    assert row["max_abs_difference"] <= 1e-4
    assert row["xla_images_per_second"] > 0 and row["plain_images_per_second"] > 0


def test_known_xla_failures_name_registry_backbones():
    from kerasbench.backbones import list_backbones
    from kerasbench.performance import XLA_KNOWN_FAILURES

    assert set(XLA_KNOWN_FAILURES) <= set(list_backbones())
    for backbone in XLA_KNOWN_FAILURES:
        assert not choose_policy(backbone, device=H100).jit_compile


@pytest.mark.parametrize("script, arguments", [
    ("benchmarks/head_training.py", ["--rows", "40", "--validation-rows", "10", "--dimension",
                                     "16", "--batches", "8", "--learning-rates", "0.01",
                                     "--epochs", "2"]),
    ("benchmarks/xla_check.py", ["--backbones", "squeezenet1_1", "--size", "32", "--batch",
                                 "2", "--steps", "1"]),
])
def test_benchmark_scripts_run_on_tiny_shapes(tmp_path, script, arguments):
    output = tmp_path / "table"
    completed = subprocess.run([sys.executable, script, *arguments, "--output", str(output)],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert output.with_suffix(".csv").exists() and output.with_suffix(".md").exists()


def test_benchmark_variants_force_each_switch_on_a_cpu():
    from kerasbench.throughput import named_policy_variants, policy_variants

    policies = policy_variants("squeezenet1_1", variants=["best", "off", "mixed", "xla"])
    assert len(policies) == 3  # on a CPU without image_size "best" is "off"
    assert {policy.compute_dtype for policy in policies} == {"float32", "bfloat16"}
    assert any(policy.jit_compile for policy in policies)
    assert len(policy_variants("squeezenet1_1")) == 1  # default best + off: one on a CPU
    assert [name for name, _ in named_policy_variants("squeezenet1_1")] == ["best=off"]
    with pytest.raises(ValueError, match="variants"):
        policy_variants("squeezenet1_1", variants=["fastest"])
    table = run_benchmark(["squeezenet1_1"], [32], [2], ["forward"], steps=1, warmup_steps=1,
                          variants=["off", "mixed"])
    assert list(table["mixed_precision"]) == ["off", "mixed_bfloat16"]
    assert list(table["variant"]) == ["off", "mixed"]
    assert set(table["peak_source"]) == {"measured float32 matmul", "measured bfloat16 matmul"}


def test_notebooks_state_the_device_and_its_policy():
    try:
        from kerasbench.studies.base import describe_device
    except ImportError:  # before the studies were split into packages
        from kerasbench.studies.base import describe_device

    line = describe_device()
    assert line.startswith("device: ")
    if device_description()["kind"] == "CPU":
        assert "compute float32, XLA off, augmentation in tf.data" in line
