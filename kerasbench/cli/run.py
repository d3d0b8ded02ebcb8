"""``kerasbench run``: execute study notebooks under a profile with papermill."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "run", help="run study notebooks under a profile (papermill)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Execute each study's notebook with the profile's parameters (checked "
                    "against the notebook's parameters cell before anything runs). Outputs "
                    "go to <output-dir>/<profile>/<study>/: the executed notebook, "
                    "records/, tables/, figures/. Exit status 0 when every study ran, 1 "
                    "when one failed (its executed notebook, with the error, is named), "
                    "2 for a usage error (unknown study, profile or parameter).",
        epilog="examples:\n"
               "  kerasbench run covid_xray --profile test\n"
               "  kerasbench run --all\n"
               "  kerasbench run clothing --profile paper --data-dir ~/data/clothing-dataset-small\n"
               "  kerasbench run fer2013 -p epochs=3 -p weights=null --log-output\n")
    parser.add_argument("studies", nargs="*", metavar="STUDY",
                        help="study names (see `kerasbench list`)")
    parser.add_argument("--all", action="store_true", help="every study")
    parser.add_argument("--profile", default="demo",
                        help="parameter profile: demo (default; generated data, CPU minutes), "
                             "test (smallest), paper (the paper's protocol, real data, GPU)")
    parser.add_argument("--data-dir", default=None, metavar="D",
                        help="the study's dataset: a folder, or a name looked up under the "
                             "data root (one study only)")
    parser.add_argument("--data-root", default=None, metavar="R",
                        help="folder holding datasets by name, e.g. /kaggle/input (default: "
                             "$KERASBENCH_DATA_ROOT, else /kaggle/input when it exists)")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="override one notebook parameter, VALUE read as YAML "
                             "(repeatable): -p epochs=3 -p 'image_sizes=[32, 64]' -p weights=null")
    parser.add_argument("--output-dir", default=None, metavar="O",
                        help="results root (default: ./results of the current folder)")
    parser.add_argument("--log-output", action="store_true",
                        help="stream each cell's output while it runs")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="papermill's cell progress bar (default: on a terminal only)")
    progress.add_argument("--no-progress", dest="progress", action="store_false",
                          help="no progress bar")
    parser.add_argument("--timeout", type=int, default=3600, metavar="S",
                        help="seconds one cell may run (default 3600)")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="run each study's runs over N local KerasTuner workers plus a "
                             "chief on 127.0.0.1 (one GPU each when several are visible); "
                             "records are the same as in one process (see docs/scaling.md)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="run up to N studies at once, each in its own process (default "
                             "1). Studies are independent; much of a small study's time is "
                             "single-threaded Python (building and tracing models), so two "
                             "jobs overlap well even on two cores")
    parser.add_argument("--kernel", default=None,
                        help="Jupyter kernel name (default: this Python, whatever kernels "
                             "are installed)")
    parser.set_defaults(handler=main)


def _configure_cell_log() -> None:
    """papermill logs cell output at INFO on its logger; show it plainly on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("papermill")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(args: argparse.Namespace) -> int:
    from kerasbench.cli import CommandError
    from kerasbench.cli.common import (
        available_studies,
        check_study,
        export_data_root,
        link_weights_into_cache,
        tensorflow_missing,
    )
    from kerasbench.notebook_runner import (
        NotebookFailed,
        default_results_root,
        parse_assignments,
        resolve_parameters,
        run_study,
    )

    if args.all and args.studies:
        raise CommandError("give study names or --all, not both")
    if not args.all and not args.studies:
        raise CommandError("name at least one study, or --all (see `kerasbench list`)")
    studies = available_studies() if args.all else [check_study(s) for s in args.studies]
    if args.data_dir and len(studies) > 1:
        raise CommandError("--data-dir is one study's dataset; for several studies use "
                           "--data-root (the folder that holds each study's dataset)")
    overrides = parse_assignments(args.parameter)
    results_root = Path(args.output_dir).expanduser().resolve() if args.output_dir \
        else default_results_root()
    export_data_root(args.data_root)

    # Every study's parameters are checked before the first one runs.
    for study in studies:
        resolve_parameters(study, args.profile, output_dir=results_root / args.profile / study,
                           data_dir=args.data_dir, overrides=overrides)
    missing = tensorflow_missing()
    if missing:
        print(f"kerasbench run: {missing}", file=sys.stderr)
        return 1
    link_weights_into_cache()
    if args.jobs < 1:
        raise CommandError(f"--jobs must be a positive integer, got {args.jobs}")
    if args.workers and args.jobs > 1:
        raise CommandError("--jobs and --workers do not combine: the workers of one run "
                           "already share the machine")
    if args.workers:
        return _run_with_workers(args, studies)
    if args.jobs > 1 and len(studies) > 1:
        return _run_in_parallel(args, studies, results_root)
    if args.log_output:
        _configure_cell_log()
    progress = sys.stderr.isatty() if args.progress is None else args.progress

    failures = []
    started = time.perf_counter()
    for position, study in enumerate(studies, start=1):
        start = time.perf_counter()
        print(f"[{position}/{len(studies)}] {study}: profile {args.profile} -> "
              f"{results_root / args.profile / study}", flush=True)
        try:
            executed = run_study(study, args.profile, results_root=results_root,
                                 data_dir=args.data_dir, overrides=overrides,
                                 timeout=args.timeout, kernel=args.kernel,
                                 progress_bar=progress, log_output=args.log_output)
        except NotebookFailed as error:
            failures.append((study, error.executed))
            print(f"[{position}/{len(studies)}] {study}: FAILED after "
                  f"{time.perf_counter() - start:.0f}s: {error.reason}\n"
                  f"    executed notebook with the error: {error.executed}",
                  file=sys.stderr, flush=True)
            continue
        except Exception as error:  # kernel could not start, ...: report, go on
            failures.append((study, None))
            print(f"[{position}/{len(studies)}] {study}: FAILED after "
                  f"{time.perf_counter() - start:.0f}s: {type(error).__name__}: "
                  f"{str(error)[-2000:]}", file=sys.stderr, flush=True)
            continue
        print(f"[{position}/{len(studies)}] {study}: ok in {time.perf_counter() - start:.0f}s "
              f"-> {executed}", flush=True)
    elapsed = time.perf_counter() - started
    if failures:
        print(f"{len(failures)} of {len(studies)} studies failed ({elapsed:.0f}s): "
              + ", ".join(f"{study} ({path or 'no notebook written'})" for study, path in failures),
              file=sys.stderr, flush=True)
        return 1
    print(f"{len(studies)} studies ran in {elapsed:.0f}s; results in "
          f"{results_root / args.profile}; `kerasbench report {results_root}` builds the "
          "HTML page", flush=True)
    return 0


def _run_with_workers(args: argparse.Namespace, studies: list[str]) -> int:
    """The same ``kerasbench run`` as one chief and ``--workers`` workers (each a full
    process running the notebook; the study's runs are shared out through KerasTuner's
    oracle, and only the chief goes on to tables and figures)."""
    from kerasbench.cli import CommandError
    from kerasbench.engine.distributed import launch_local_workers

    if args.workers < 1:
        raise CommandError(f"--workers must be a positive integer, got {args.workers}")
    return launch_local_workers(_child_command(args, studies), args.workers, timeout=None)


def _child_command(args: argparse.Namespace, studies: list[str]) -> list[str]:
    """This ``kerasbench run`` for ``studies`` in a child process (no progress bar)."""
    command = [sys.executable, "-m", "kerasbench", "run", *studies,
               "--profile", args.profile, "--no-progress", "--timeout", str(args.timeout)]
    for flag, value in (("--data-dir", args.data_dir), ("--data-root", args.data_root),
                        ("--output-dir", args.output_dir), ("--kernel", args.kernel)):
        if value:
            command += [flag, str(value)]
    for item in args.parameter:
        command += ["-p", item]
    if args.log_output:
        command.append("--log-output")
    return command


def _run_in_parallel(args: argparse.Namespace, studies: list[str], results_root: Path) -> int:
    """Each study in its own ``kerasbench run`` process, ``--jobs`` at a time, in the
    given order; their lines are relayed with the study's name. Exit status 1 when any
    study failed (each child names its executed notebook)."""
    import subprocess
    import threading

    def relay(study: str, stream) -> None:
        for line in iter(stream.readline, ""):
            print(f"[{study}] {line}", end="", flush=True)
        stream.close()

    # Studies sharing a GPU: each takes memory as it needs it, not the whole device.
    environment = {**os.environ}
    environment.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    started = time.perf_counter()
    waiting, running, failed = list(studies), [], []
    try:
        while waiting or running:
            while waiting and len(running) < args.jobs:
                study = waiting.pop(0)
                child = subprocess.Popen(_child_command(args, [study]),
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True, env=environment)
                thread = threading.Thread(target=relay, args=(study, child.stdout),
                                          daemon=True)
                thread.start()
                running.append((study, child, thread))
            time.sleep(0.2)
            for entry in list(running):
                study, child, thread = entry
                if child.poll() is not None:
                    thread.join(timeout=10)
                    running.remove(entry)
                    if child.returncode != 0:
                        failed.append(study)
    except KeyboardInterrupt:
        # Finished runs are on disk already; the same command later redoes only the rest.
        for _, child, _ in running:
            child.terminate()
        for _, child, _ in running:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        print(f"interrupted: {', '.join(study for study, _, _ in running) or 'nothing'} "
              f"stopped, {', '.join(waiting) or 'nothing'} not started; run the same "
              "command again to go on (finished runs are skipped)", file=sys.stderr,
              flush=True)
        return 130
    elapsed = time.perf_counter() - started
    if failed:
        print(f"{len(failed)} of {len(studies)} studies failed ({elapsed:.0f}s): "
              + ", ".join(failed), file=sys.stderr, flush=True)
        return 1
    print(f"{len(studies)} studies ran in {elapsed:.0f}s ({args.jobs} at a time); results "
          f"in {results_root / args.profile}; `kerasbench report {results_root}` builds the "
          "HTML page", flush=True)
    return 0
