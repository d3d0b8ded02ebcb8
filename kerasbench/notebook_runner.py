"""Run study notebooks with papermill under a named profile (what ``kerasbench run`` calls).

A profile is a YAML file of notebook parameters, ``profiles/<study>/<profile>.yaml`` beside
the notebooks. Its names, and every ``-p name=value`` override, are checked against the
notebook's ``parameters`` cell before anything runs, so a typo is an error rather than a
silently ignored setting. Executed notebooks, records, tables and figures go under
``<results>/<profile>/<study>/`` (``./results`` of the folder the command runs in unless
told otherwise); a failed notebook is kept with the error visible and
:class:`NotebookFailed` names it.

Where the notebooks are: ``$KERASBENCH_NOTEBOOKS`` if set, else ``kerasbench/notebooks``
inside an installed wheel, else ``notebooks/`` at the root of a clone (an editable
install). ``python -m kerasbench.notebook_runner`` is an alias of ``kerasbench run``.
"""

from __future__ import annotations

import ast
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from kerasbench.errors import ConfigError
from kerasbench.io import write_json_atomic
from kerasbench.parameters import check_values, declared_types

PACKAGE_DIR = Path(__file__).resolve().parent
KERNEL_NAME = "kerasbench"
# Parameters the runner itself sets; every study notebook declares them.
RUNNER_PARAMETERS = ("profile", "output_dir", "data_dir")
# String parameters that name files or folders: a relative path that exists where the
# command runs is made absolute, because the notebook runs in its output folder.
_PATH_SUFFIXES = ("_dir", "_path", "_file")


class NotebookFailed(RuntimeError):
    """A study notebook raised; ``executed`` is the saved notebook with the failing cell."""

    def __init__(self, study: str, executed: Path, reason: str):
        super().__init__(f"{study}: {reason} (executed notebook with the error: {executed})")
        self.study, self.executed, self.reason = study, Path(executed), reason


# --------------------------------------------------------------------------- locations


def notebooks_dir() -> Path:
    """The folder holding the study notebooks and ``profiles/`` (see the module docstring)."""
    env = os.environ.get("KERASBENCH_NOTEBOOKS")
    if env:
        return Path(env).expanduser().resolve()
    packaged = PACKAGE_DIR / "notebooks"  # an installed wheel: package data
    if any(packaged.glob("*.ipynb")):
        return packaged
    return PACKAGE_DIR.parent / "notebooks"  # a clone (editable install)


def profiles_dir(notebooks: Path | None = None) -> Path:
    return (notebooks or notebooks_dir()) / "profiles"


def default_results_root() -> Path:
    """``./results`` of the folder the command runs in."""
    return Path.cwd() / "results"


def list_studies(notebooks: Path | None = None) -> list[str]:
    """The registered studies whose notebook is present, then any other ``<name>.ipynb``
    with a ``profiles/<name>/`` folder (a user's own study); callers treat [] as an error."""
    from kerasbench.studies import STUDIES

    notebooks = notebooks or notebooks_dir()
    found = [name for name, info in STUDIES.items() if (notebooks / info.notebook).exists()]
    registered = {info.notebook for info in STUDIES.values()}
    found += [path.stem for path in sorted(notebooks.glob("*.ipynb"))
              if path.name not in registered and (notebooks / "profiles" / path.stem).is_dir()]
    return found


def notebook_path(study: str, notebooks: Path | None = None) -> Path:
    from kerasbench.studies import STUDIES

    notebooks = notebooks or notebooks_dir()
    # A study outside the registry (a user's own notebook) is <name>.ipynb.
    path = notebooks / (STUDIES[study].notebook if study in STUDIES else f"{study}.ipynb")
    if not path.exists():
        raise ConfigError(f"no notebook {path}; studies present: {list_studies(notebooks)}")
    return path


def list_profiles(study: str, profiles: Path | None = None) -> list[str]:
    folder = (profiles or profiles_dir()) / study
    return sorted(path.stem for path in folder.glob("*.yaml"))


# --------------------------------------------------------------------------- parameters


def notebook_parameters(path: Path) -> dict:
    """The names and default source text of a notebook's ``parameters`` cell."""
    import papermill

    inferred = papermill.inspect_notebook(str(path))
    if not inferred:
        raise ConfigError(f"{path} has no cell tagged 'parameters'")
    return {name: spec["default"] for name, spec in inferred.items()}


def notebook_defaults(path: Path) -> dict:
    """The ``parameters`` cell's defaults as Python values (source text where not literal)."""
    values = {}
    for name, source in notebook_parameters(path).items():
        try:
            values[name] = ast.literal_eval(source)
        except (ValueError, SyntaxError):
            values[name] = source
    return values


def load_profile(study: str, profile: str, profiles: Path | None = None) -> dict:
    profiles = profiles or profiles_dir()
    path = profiles / study / f"{profile}.yaml"
    if not path.exists():
        raise ConfigError(f"no profile file {path}; profiles for {study}: "
                          f"{list_profiles(study, profiles)}")
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


def parse_assignments(items: list[str] | None) -> dict:
    """``["epochs=3", "weights=null", "sizes=[32, 64]"]`` -> values read as YAML."""
    values = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigError(f"-p {item!r}: write NAME=VALUE (VALUE read as YAML, e.g. "
                              "epochs=3, weights=null, sizes=[32,64])")
        try:
            values[name.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as error:
            raise ConfigError(f"-p {item!r}: the value is not valid YAML ({error})") from None
    return values


def absolute_paths(parameters: dict, base: Path | None = None) -> dict:
    """Relative file and folder parameters that exist from ``base`` (the folder the
    command runs in) made absolute, since the notebook runs in its output folder."""
    base = Path(base or Path.cwd())
    out = dict(parameters)
    for name, value in parameters.items():
        if not isinstance(value, str) or not value or value in ("imagenet", "demo", "auto"):
            continue
        if name.endswith(_PATH_SUFFIXES) or name == "weights":
            candidate = Path(value).expanduser()
            if not candidate.is_absolute() and (base / candidate).exists():
                out[name] = str((base / candidate).resolve())
            elif name == "weights" and not candidate.exists():
                # A weights file not where it says: look in $KERASBENCH_WEIGHTS_DIR and
                # Keras's cache by its name.
                from kerasbench.cli.common import find_weight_file

                found, _ = find_weight_file(candidate.name)
                if found is not None:
                    out[name] = str(found.resolve())
    return out


def resolve_parameters(study: str, profile: str, *, output_dir: Path, data_dir: str | None = None,
                       overrides: dict | None = None, notebooks: Path | None = None,
                       profiles: Path | None = None) -> dict:
    """The profile's values, then ``overrides``, then the runner's own (profile,
    output_dir, data_dir); every name checked against the notebook's parameters."""
    notebooks = notebooks or notebooks_dir()
    path = notebook_path(study, notebooks)
    parameters = load_profile(study, profile, profiles or profiles_dir(notebooks))
    check_parameters(parameters, path, source=f"profile {profile!r}")
    types = declared_types(path)
    check_values(parameters, types, source=f"profile {profile!r} of {study}")
    if overrides:
        check_parameters(overrides, path, source="-p")
        check_values(overrides, types, source=f"-p for {study}")
        parameters.update(overrides)
    parameters["profile"] = profile
    parameters["output_dir"] = str(output_dir)
    if data_dir:
        # A folder is passed as its absolute path; anything else is a dataset name the
        # study looks up under DATA_DIR / KERASBENCH_DATA / /kaggle/input.
        local = Path(data_dir).expanduser()
        parameters["data_dir"] = str(local.resolve()) if local.exists() else str(data_dir)
    parameters = absolute_paths(parameters)
    check_parameters(parameters, path)
    return parameters


# --------------------------------------------------------------------------- the kernel

_PRIVATE_KERNELS: dict[str, str] = {}


def this_python_kernel() -> str:
    """A kernelspec that runs this interpreter, in a private folder put first on
    ``JUPYTER_PATH`` for this process, so a run never depends on which kernels a user
    installed (or on an old ``kerasbench`` kernel pointing at another environment)."""
    if sys.executable in _PRIVATE_KERNELS:
        return _PRIVATE_KERNELS[sys.executable]
    name = "kerasbench-run"
    root = Path(tempfile.mkdtemp(prefix="kerasbench-kernel-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    spec_dir = root / "kernels" / name
    spec_dir.mkdir(parents=True)
    # log_level ERROR: no "running over TCP without encryption" warning on every run.
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "Python (kerasbench run)", "language": "python"}
    write_json_atomic(spec_dir / "kernel.json", spec)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        item for item in (str(root), os.environ.get("JUPYTER_PATH")) if item)
    _PRIVATE_KERNELS[sys.executable] = name
    return name


# --------------------------------------------------------------------------- running


def run_study(study: str, profile: str = "demo", *, results_root: Path | None = None,
              data_dir: str | None = None, overrides: dict | None = None,
              timeout: int = 3600, kernel: str | None = None, notebooks: Path | None = None,
              profiles: Path | None = None, progress_bar: bool = False,
              log_output: bool = False) -> Path:
    """Execute one study notebook into ``<results_root>/<profile>/<study>/``; returns the
    executed notebook. Raises :class:`NotebookFailed` (after papermill saved the executed
    notebook with the failing cell) or :class:`ConfigError` before anything runs.

    ``kernel`` None runs this interpreter (:func:`this_python_kernel`)."""
    import papermill

    # Kernels inherit the environment: keep TensorFlow's C++ start-up chatter out of logs.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    notebooks = notebooks or notebooks_dir()
    results_root = Path(results_root) if results_root is not None else default_results_root()
    output_dir = (results_root / profile / study).resolve()
    parameters = resolve_parameters(study, profile, output_dir=output_dir, data_dir=data_dir,
                                    overrides=overrides, notebooks=notebooks, profiles=profiles)
    output_dir.mkdir(parents=True, exist_ok=True)
    executed = output_dir / f"{study}.ipynb"
    from kerasbench.engine import distributed

    worker = distributed.is_worker()
    if worker:
        # A worker's copy of the notebook stops after the runs (WorkerFinished); the
        # chief's is the study's notebook.
        executed = output_dir / "workers" / distributed.tuner_id() / f"{study}.ipynb"
        executed.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook_path(study, notebooks)), str(executed), parameters=parameters,
            kernel_name=kernel or this_python_kernel(), cwd=str(output_dir),
            execution_timeout=timeout, progress_bar=progress_bar, log_output=log_output,
        )
    except papermill.PapermillExecutionError as error:
        if worker and error.ename == "WorkerFinished":
            return executed
        reason = f"cell {error.exec_count} raised {error.ename}: {error.evalue}"
        raise NotebookFailed(study, executed, reason) from error
    except Exception as error:  # kernel died, timeout, ...: the notebook is still saved
        if executed.exists():
            raise NotebookFailed(study, executed, f"{type(error).__name__}: {error}") from error
        raise
    return executed


def main(argv: list[str] | None = None) -> int:
    """Alias of ``kerasbench run`` (the old ``--study NAME`` is still accepted)."""
    from kerasbench.cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    converted = []
    while argv:
        item = argv.pop(0)
        if item == "--study" and argv:
            converted.append(argv.pop(0))
        elif item == "--results" and argv:
            converted += ["--output-dir", argv.pop(0)]
        else:
            converted.append(item)
    return cli_main(["run", *converted])


if __name__ == "__main__":
    sys.exit(main())
