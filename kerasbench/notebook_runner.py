"""Run study notebooks with papermill under a named profile.

A profile is a YAML file of notebook parameters, ``notebooks/profiles/<study>/<profile>.yaml``.
Its names are checked against the notebook's ``parameters`` cell before anything runs, so a
typo is an error rather than a silently ignored setting. Executed notebooks, results rows
and figures go under ``results/<profile>/<study>/``; a failed notebook's output is kept
with the error visible, and the command exits non-zero.

Usage: ``python -m kerasbench.notebook_runner --profile demo --all`` (what ``make
reproduce-all`` runs) or ``--study clothing``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

from kerasbench.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
PROFILES = NOTEBOOKS / "profiles"
KERNEL_NAME = "kerasbench"
# Parameters the runner itself sets; every study notebook declares them.
RUNNER_PARAMETERS = ("profile", "output_dir", "data_dir")


def list_studies(notebooks: Path = NOTEBOOKS) -> list[str]:
    """The registered studies whose notebook is present (an empty list is an error)."""
    from kerasbench.studies import STUDIES

    return sorted(name for name, info in STUDIES.items() if (notebooks / info.notebook).exists())


def notebook_path(study: str, notebooks: Path = NOTEBOOKS) -> Path:
    from kerasbench.studies import STUDIES

    # A study outside the registry (a user's own notebook) is <name>.ipynb.
    path = notebooks / (STUDIES[study].notebook if study in STUDIES else f"{study}.ipynb")
    if not path.exists():
        raise ConfigError(f"no notebook {path}; studies present: {list_studies(notebooks)}")
    return path


def notebook_parameters(path: Path) -> dict:
    """The names and literal defaults of a notebook's ``parameters`` cell."""
    import papermill

    inferred = papermill.inspect_notebook(str(path))
    if not inferred:
        raise ConfigError(f"{path} has no cell tagged 'parameters'")
    return {name: spec["default"] for name, spec in inferred.items()}


def load_profile(study: str, profile: str, profiles: Path = PROFILES) -> dict:
    path = profiles / study / f"{profile}.yaml"
    if not path.exists():
        available = sorted(p.stem for p in (profiles / study).glob("*.yaml"))
        raise ConfigError(f"no profile file {path}; profiles for {study}: {available}")
    with open(path, encoding="utf-8") as stream:
        values = yaml.safe_load(stream) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a mapping of parameter names to values")
    return values


def check_parameters(parameters: dict, path: Path, source: str = "profile") -> None:
    known = notebook_parameters(path)
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ConfigError(
            f"{source} sets {unknown}, which {path.name} does not declare; "
            f"its parameters are: {sorted(known)}"
        )


def resolve_parameters(study: str, profile: str, *, output_dir: Path, data_dir: str | None = None,
                       overrides: dict | None = None, notebooks: Path = NOTEBOOKS,
                       profiles: Path = PROFILES) -> dict:
    path = notebook_path(study, notebooks)
    parameters = load_profile(study, profile, profiles)
    parameters.update(overrides or {})
    parameters["profile"] = profile
    parameters["output_dir"] = str(output_dir)
    if data_dir:
        parameters["data_dir"] = str(Path(data_dir).resolve())
    check_parameters(parameters, path)
    return parameters


def run_study(study: str, profile: str = "demo", *, results_root: Path = REPO_ROOT / "results",
              data_dir: str | None = None, overrides: dict | None = None,
              timeout: int = 3600, kernel: str = KERNEL_NAME, notebooks: Path = NOTEBOOKS,
              profiles: Path = PROFILES) -> Path:
    """Execute one study notebook; returns the executed notebook's path (raises on failure,
    after papermill has saved the executed notebook with the failing cell)."""
    import papermill

    # Kernels inherit the environment: keep TensorFlow's C++ start-up chatter out of logs.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    output_dir = (Path(results_root) / profile / study).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    parameters = resolve_parameters(study, profile, output_dir=output_dir, data_dir=data_dir,
                                    overrides=overrides, notebooks=notebooks, profiles=profiles)
    executed = output_dir / f"{study}.ipynb"
    papermill.execute_notebook(
        str(notebook_path(study, notebooks)), str(executed), parameters=parameters,
        kernel_name=kernel, cwd=str(output_dir), execution_timeout=timeout,
        progress_bar=False, log_output=False,
    )
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument("--all", action="store_true", help="every notebook in notebooks/")
    choice.add_argument("--study", action="append", help="a study name (repeatable)")
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--data-dir", default=None, help="dataset folder for the paper profile")
    parser.add_argument("--results", default=str(REPO_ROOT / "results"))
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--kernel", default=KERNEL_NAME)
    arguments = parser.parse_args(argv)

    studies = list_studies() if arguments.all else arguments.study
    if not studies:
        print(f"no study notebooks found in {NOTEBOOKS}: nothing to run", flush=True)
        return 1
    failures = []
    for study in studies:
        start = time.perf_counter()
        print(f"[{study}] profile={arguments.profile} ...", flush=True)
        try:
            executed = run_study(study, arguments.profile, results_root=Path(arguments.results),
                                 data_dir=arguments.data_dir, timeout=arguments.timeout,
                                 kernel=arguments.kernel)
        except Exception as error:  # report every study, then fail the command
            failures.append(study)
            print(f"[{study}] FAILED after {time.perf_counter() - start:.0f}s: "
                  f"{type(error).__name__}: {str(error)[-2000:]}", flush=True)
            continue
        print(f"[{study}] ok in {time.perf_counter() - start:.0f}s -> {executed}", flush=True)
    if failures:
        print(f"failed: {failures} (executed notebooks with the errors are under "
              f"{arguments.results}/{arguments.profile}/)", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
