"""Feature cache benchmark: one frozen-backbone grid trained on cached features and on images.

Runs the same image size x batch size x learning rate grid twice in one process on the
same data: once through the feature cache (pooled features computed once per backbone,
image size and split, then every (batch, lr) trial trains the head on them) and once the
plain way (every trial builds the frozen model and fits it on decoded images, as the
paper did). Prints each wall time, the ratio, and the largest difference in validation
(and test) macro F1 between the two paths, which must agree.

    .venv/bin/python benchmarks/feature_cache.py                 # CPU-sized defaults
    .venv/bin/python benchmarks/feature_cache.py --per-class 40 10 10 --warm

Data: ``clothing-small`` under ``$KERASBENCH_DATA`` (default ``../shared/data``), with a
per-class subsample; the embedded demo data when that folder is absent. The cache starts
empty (a temporary folder), so the cached time includes computing every feature.
Writes the per-configuration table to results/benchmarks/feature_cache.{csv,md}.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import pandas as pd  # noqa: E402

from kerasbench.data.index import index_folder  # noqa: E402
from kerasbench.engine.feature_cache import FeatureCache  # noqa: E402
from kerasbench.io import write_csv_atomic, write_text_atomic  # noqa: E402
from kerasbench.store import RunStore  # noqa: E402
from kerasbench.studies.clothing import FrozenBackboneGrid, make_demo_data  # noqa: E402


def find_data(explicit: str | None) -> tuple[Path, bool]:
    """The clothing-small folder (explicit, or under KERASBENCH_DATA / ../shared/data),
    else the embedded demo data; returns (folder, is_demo)."""
    if explicit:
        return Path(explicit), False
    root = Path(os.environ.get("KERASBENCH_DATA", REPO_ROOT.parent / "shared" / "data"))
    if (root / "clothing-small").is_dir():
        return root / "clothing-small", False
    from kerasbench.data.demo import demo_folder

    return demo_folder(make_demo_data), True


def run_path(index, arguments, workdir: Path, cache, is_demo: bool
             ) -> tuple[float, float, list]:
    """Every backbone's grid along one path; returns (wall seconds, CPU seconds, records).

    CPU seconds (this process, all threads) are reported beside wall time because on a
    shared machine other jobs stretch wall time unevenly between the two paths.
    """
    name = "cached" if cache is not None else "plain"
    store = RunStore(workdir / name / "records")
    records = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for backbone in arguments.backbones:
        grid = FrozenBackboneGrid(
            index, backbone=backbone, weights=None, image_sizes=arguments.sizes,
            batch_sizes=arguments.batches, learning_rates=arguments.learning_rates,
            epochs=arguments.epochs, seed=arguments.seed, feature_cache=cache, demo=is_demo,
        )
        outcome = grid.run(store, directory=workdir / name / "tuner", progress=False)
        records.extend(outcome.records)
    return time.perf_counter() - start, time.process_time() - cpu_start, records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["densenet201", "xception"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[71, 80, 96])
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 48, 64])
    parser.add_argument("--learning-rates", nargs="+", type=float, default=[0.01, 0.001, 0.0001])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--per-class", nargs=3, type=int, default=[20, 5, 5],
                        metavar=("TRAIN", "VALIDATION", "TEST"),
                        help="images per class kept in each split (0 keeps the split whole)")
    parser.add_argument("--data", default=None, help="a clothing folder (train/validation/test)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warm", action="store_true",
                        help="also time the cached path again with the features on disk")
    parser.add_argument("--output", default=str(REPO_ROOT / "results/benchmarks/feature_cache"))
    arguments = parser.parse_args(argv)

    folder, is_demo = find_data(arguments.data)
    index = index_folder(folder, check_images=False, on_cross_split_duplicate="ignore")
    per_split = {split: (count or None) for split, count in
                 zip(("train", "validation", "test"), arguments.per_class)}
    index = index.subsample(per_split, seed=arguments.seed)
    rows = {split: len(index.split(split)) for split in ("train", "validation", "test")}
    trials = len(arguments.sizes) * len(arguments.batches) * len(arguments.learning_rates)
    print(f"data: {folder}{' (DEMO DATA)' if is_demo else ''}; rows {rows}; "
          f"{len(arguments.backbones)} backbones x {trials} trials x {arguments.epochs} epochs; "
          "weights=None (random init, seeded)", flush=True)

    with tempfile.TemporaryDirectory(prefix="kerasbench-feature-cache-") as workdir:
        workdir = Path(workdir)
        # The cached path goes first, so it also pays the process's one-time warm-up.
        cache = FeatureCache(workdir / "features", verbose=False)
        cached_seconds, cached_cpu, cached = run_path(index, arguments, workdir, cache,
                                                       is_demo)
        extraction = sum(record.durations.get("feature_s", 0.0) for record in cached)
        print(f"cached features: {cached_seconds:.1f} s wall, {cached_cpu:.1f} s CPU (of which "
              f"computing features {extraction:.1f} s wall, {cache.misses} splits computed)",
              flush=True)
        plain_seconds, plain_cpu, plain = run_path(index, arguments, workdir, None, is_demo)
        print(f"plain images:    {plain_seconds:.1f} s wall, {plain_cpu:.1f} s CPU", flush=True)

        table = []
        for fast, slow in zip(cached, plain):
            keys = ("backbone", "image_size", "batch_size", "learning_rate")
            if [fast.config[k] for k in keys] != [slow.config[k] for k in keys]:
                raise RuntimeError("the two paths ran their grids in different orders")
            table.append({
                **{key: fast.config[key] for key in keys},
                "val_f1_cached": fast.metric("validation", "macro_f1"),
                "val_f1_plain": slow.metric("validation", "macro_f1"),
                "test_f1_cached": fast.metric("test", "macro_f1"),
                "test_f1_plain": slow.metric("test", "macro_f1"),
                "trial_s_cached": fast.durations["total_s"],
                "trial_s_plain": slow.durations["total_s"],
                "demo": is_demo,
            })
        table = pd.DataFrame(table)
        validation_gap = (table["val_f1_cached"] - table["val_f1_plain"]).abs().max()
        test_gap = (table["test_f1_cached"] - table["test_f1_plain"]).abs().max()
        print(f"speed-up (plain / cached): {plain_seconds / cached_seconds:.1f}x wall time, "
              f"{plain_cpu / cached_cpu:.1f}x CPU time", flush=True)
        print(f"largest |validation macro F1 difference|: {validation_gap:.6f} over "
              f"{len(table)} configurations (test: {test_gap:.6f})", flush=True)

        if arguments.warm:
            warm_cache = FeatureCache(workdir / "features", verbose=False)
            warm_seconds, _, _ = run_path(index, arguments, workdir / "warm", warm_cache,
                                          is_demo)
            print(f"cached features, warm cache (another run reusing the files): "
                  f"{warm_seconds:.1f} s, {plain_seconds / warm_seconds:.1f}x "
                  f"({warm_cache.hits} feature requests served from the cache, "
                  f"{warm_cache.misses} computed)", flush=True)

    note = ("DEMO DATA (synthetic) - " if is_demo else "") + (
        f"{folder}, rows {rows}, random-init backbones; cached {cached_seconds:.1f} s, "
        f"plain {plain_seconds:.1f} s, {plain_seconds / cached_seconds:.1f}x")
    output = Path(arguments.output)
    write_csv_atomic(output.with_suffix(".csv"), table)
    write_text_atomic(output.with_suffix(".md"),
                      f"_{note}_\n\n{table.to_markdown(index=False)}\n")
    return 0 if validation_gap <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
