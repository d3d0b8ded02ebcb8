"""benchmarks/input_pipeline.py runs end to end on its tiny synthetic data."""

import subprocess
import sys

import pandas as pd


def test_input_benchmark_tiny_mode(tmp_path):
    output = tmp_path / "input"
    completed = subprocess.run(
        [sys.executable, "benchmarks/input_pipeline.py", "--tiny", "--output", str(output)],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    for mode in ("plain", "augmented"):
        for name in ("make_dataset", "make_dataset_uncached"):
            assert f"{mode}: {name} / faster peer = " in completed.stdout
    table = pd.read_csv(output.with_suffix(".csv"))
    assert set(table["loader"]) == {"make_dataset", "make_dataset_uncached",
                                    "image_dataset_from_directory", "flow_from_directory"}
    assert set(table["mode"]) == {"plain", "augmented"}
    measured = table.dropna(subset=["best"])
    assert (measured["images"] == 12).all() and (measured["best"] > 0).all()
    assert {"round1", "round2", "ratio_to_faster_peer"} <= set(table.columns)
