"""The clothing grid over 1, 2 and 4 local KerasTuner workers: wall time and speed-up.

Runs the clothing test profile's grid (SqueezeNet 1.1 and 1.0, 36 px, batch sizes 8 and
16, learning rates 0.01 and 0.001: 8 points, 1 epoch, 6/2/2 demo images per class) once
in one process (no distribution: the reference) and once per worker count as a chief and
N workers on 127.0.0.1 (:func:`kerasbench.engine.distributed.launch_local_workers`), each
time into a fresh record store; every wall time counts the processes' start (Python,
TensorFlow) as a user would see it. Checks that every setting wrote the same records
(run ids and validation macro F1) and prints the table, then the commands for a
multi-GPU machine.

    .venv/bin/python benchmarks/distributed_grid.py                      # 1, 2, 4 workers
    .venv/bin/python benchmarks/distributed_grid.py --workers 1 2 --plain --epochs 2
    .venv/bin/python benchmarks/distributed_grid.py --image-sizes 36 64 --per-class 20

``--plain`` fits the whole frozen model on images at every point (the paper's way; more
work per point) instead of heads on cached features (the test profile's way). On a
machine with several GPUs each worker gets its own (``CUDA_VISIBLE_DEVICES``). Writes
results/benchmarks/distributed_grid.{csv,md}.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

TEST_GRID = {"backbones": ["squeezenet1_1", "squeezenet1_0"], "image_sizes": [36],
             "batch_sizes": [8, 16], "learning_rates": [0.01, 0.001]}


def run_grid_here(settings: dict) -> None:
    """One process's part (chief, worker, or the whole grid without distribution)."""
    from kerasbench.data.index import index_folder
    from kerasbench.engine import distributed
    from kerasbench.engine.feature_cache import FeatureCache
    from kerasbench.store import RunStore
    from kerasbench.studies.clothing.grid import FrozenBackboneGrid

    start = time.perf_counter()
    index = index_folder(settings["data"])
    store = RunStore(settings["store"])
    cache = None if settings["plain"] else FeatureCache(settings["cache"], verbose=False)
    records = []
    for backbone in settings["backbones"]:
        grid = FrozenBackboneGrid(
            index, backbone=backbone, weights=None, image_sizes=settings["image_sizes"],
            batch_sizes=settings["batch_sizes"], learning_rates=settings["learning_rates"],
            epochs=settings["epochs"], seed=42, feature_cache=cache, demo=True)
        records += grid.run(store, progress=False).records
    if distributed.is_worker():
        return  # a worker builds no tables
    Path(settings["summary"]).write_text(json.dumps({
        "seconds_in_grid": time.perf_counter() - start,
        "runs": {r.run_id: r.metric("validation", "macro_f1") for r in records},
        "trained_seconds": sum(r.durations.get("total_s", 0.0) for r in records)}))


def timed(command: list[str], workers: int | None, env: dict) -> float:
    from kerasbench.engine.distributed import launch_local_workers

    start = time.perf_counter()
    if workers is None:
        code = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, timeout=3600).returncode
    else:
        devnull = open(os.devnull, "w")  # noqa: SIM115 - the launcher relays to stdout
        saved, sys.stdout = sys.stdout, devnull
        try:
            code = launch_local_workers(command, workers, env=env, timeout=3600, grace=60)
        finally:
            sys.stdout = saved
            devnull.close()
    if code != 0:
        raise SystemExit(f"{command} with {workers} worker(s) exited with {code}")
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backbones", nargs="+", default=TEST_GRID["backbones"])
    parser.add_argument("--image-sizes", type=int, nargs="+", default=TEST_GRID["image_sizes"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=TEST_GRID["batch_sizes"])
    parser.add_argument("--learning-rates", type=float, nargs="+",
                        default=TEST_GRID["learning_rates"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--per-class", type=int, default=6, help="train images per class "
                        "of the generated demo data (validation and test: a third, at least 2)")
    parser.add_argument("--plain", action="store_true", help="fit on images, no feature cache")
    parser.add_argument("--output", default=str(REPO_ROOT / "results" / "benchmarks"))
    parser.add_argument("--role-settings", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role_settings:
        run_grid_here(json.loads(args.role_settings))
        return 0

    import pandas as pd

    from kerasbench.engine.distributed import visible_gpus
    from kerasbench.io import write_csv_atomic, write_text_atomic
    from kerasbench.studies.clothing import make_demo_data

    work = Path(tempfile.mkdtemp(prefix="kerasbench-distributed-grid-"))
    small = max(2, args.per_class // 3)
    data = make_demo_data(work / "data", seed=42, per_class=(args.per_class, small, small))
    base = {"data": str(data), "backbones": args.backbones, "image_sizes": args.image_sizes,
            "batch_sizes": args.batch_sizes, "learning_rates": args.learning_rates,
            "epochs": args.epochs, "plain": args.plain}
    env = {key: value for key, value in os.environ.items() if not key.startswith("KERASTUNER_")}
    rows, reference = [], None
    points = len(args.backbones) * len(args.image_sizes) * len(args.batch_sizes) \
        * len(args.learning_rates)
    print(f"grid: {points} points ({'images' if args.plain else 'cached features'}), "
          f"{os.cpu_count()} CPU cores, GPUs: {visible_gpus() or 'none'}", flush=True)
    for workers in [None, *args.workers]:
        name = "single" if workers is None else f"w{workers}"
        settings = {**base, "store": str(work / name / "records"),
                    "cache": str(work / name / "cache"), "summary": str(work / f"{name}.json")}
        command = [sys.executable, str(Path(__file__).resolve()), "--role-settings",
                   json.dumps(settings)]
        seconds = timed(command, workers, env)
        summary = json.loads(Path(settings["summary"]).read_text())
        if reference is None:
            reference = summary
        same = summary["runs"] == reference["runs"]
        rows.append({"setting": "one process" if workers is None else f"chief + {workers} worker(s)",
                     "processes": 1 if workers is None else workers + 1, "points": points,
                     "wall_s": round(seconds, 1),
                     "speed_up": round(rows[0]["wall_s"] / seconds, 2) if rows else 1.0,
                     "chief_grid_s": round(summary["seconds_in_grid"], 1),
                     "trial_s_sum": round(summary["trained_seconds"], 1),
                     "same_records": same})
        print(f"{rows[-1]['setting']:>22}: {seconds:6.1f} s wall, speed-up "
              f"{rows[-1]['speed_up']:.2f}, same records: {same}", flush=True)
    table = pd.DataFrame(rows)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(output / "distributed_grid.csv", table, index=False)
    write_text_atomic(output / "distributed_grid.md", table.to_markdown(index=False) + "\n")
    print("\n" + table.to_markdown(index=False))
    print("""
wall_s: launch to exit, process start included; chief_grid_s: the chief's time inside the
grid calls (data loaded); trial_s_sum: the runs' own total_s, summed over workers.

On a machine with several GPUs (each worker sees one GPU, the chief none):
  .venv/bin/python benchmarks/distributed_grid.py --workers 1 2 4 --plain --image-sizes 224
  kerasbench run clothing --profile paper --workers 2      # once the CLI wires it
  python -c "import sys; from kerasbench.engine.distributed import launch_local_workers; \\
sys.exit(launch_local_workers(['kerasbench', 'run', 'clothing', '--profile', 'paper'], 2))"
Across machines: see docs/scaling.md (KERASTUNER_TUNER_ID / _ORACLE_IP / _ORACLE_PORT).""")
    if not all(row["same_records"] for row in rows):
        print("DIFFERENT RECORDS between settings", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
