import subprocess
import sys

import numpy as np
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


def test_cpu_policy_changes_nothing():
    policy = choose_policy("resnet50", device=CPU)
    assert policy.mixed_precision is None and policy.compute_dtype == "float32"
    assert not policy.jit_compile and not policy.augment_on_device


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


def test_benchmark_runs_on_a_tiny_shape():
    table = run_benchmark(["squeezenet1_1"], [48], [4], steps=1, warmup_steps=1)
    assert set(table["mode"]) == {"train", "forward"}
    assert (table["images_per_second"] > 0).all()
    assert (table["fraction_of_peak"] > 0).all()
    assert table["gflops_per_image"].iloc[0] > 0
    assert set(table["peak_source"]) == {"measured float32 matmul"}  # no datasheet peak: a CPU


def test_benchmark_script_writes_its_table(tmp_path):
    output = tmp_path / "throughput"
    completed = subprocess.run(
        [sys.executable, "benchmarks/throughput.py", "--backbones", "squeezenet1_1", "--sizes",
         "48", "--batches", "2", "--steps", "1", "--warmup-steps", "1", "--output", str(output)],
        capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "images_per_second" in completed.stdout
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
    from kerasbench.throughput import policy_variants

    policies = policy_variants("squeezenet1_1", variants=["best", "off", "mixed", "xla"])
    assert len(policies) == 3  # on a CPU "best" is "off"
    assert {policy.compute_dtype for policy in policies} == {"float32", "bfloat16"}
    assert any(policy.jit_compile for policy in policies)
    assert len(policy_variants("squeezenet1_1")) == 1  # default best + off: one on a CPU
    with pytest.raises(ValueError, match="variants"):
        policy_variants("squeezenet1_1", variants=["fastest"])
    table = run_benchmark(["squeezenet1_1"], [32], [2], ["forward"], steps=1, warmup_steps=1,
                          variants=["off", "mixed"])
    assert list(table["mixed_precision"]) == ["off", "mixed_bfloat16"]
    assert set(table["peak_source"]) == {"measured float32 matmul", "measured bfloat16 matmul"}


def test_notebooks_state_the_device_and_its_policy():
    from kerasbench.studies.common import describe_device

    line = describe_device()
    assert line.startswith("device: ")
    if device_description()["kind"] == "CPU":
        assert "compute float32, XLA off, augmentation in tf.data" in line
