"""The wheel: notebooks and profiles as package data, the console script, and the
TensorFlow requirement chosen by KERASBENCH_TENSORFLOW (built offline, no build isolation)."""

import os
import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "kerasbench", "notebooks")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")


def _source_copy(target: Path) -> Path:
    """The files a build reads, copied (the build writes build/ and egg-info beside them)."""
    target.mkdir(parents=True)
    for name in SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=IGNORED)
        else:
            shutil.copy2(source, target / name)
    return target


def _build_wheel(source: Path, out: Path, tensorflow: str | None = None) -> Path:
    env = {**os.environ}
    env.pop("KERASBENCH_TENSORFLOW", None)
    if tensorflow is not None:
        env["KERASBENCH_TENSORFLOW"] = tensorflow
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), str(source)],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("kerasbench-*.whl")
    return wheel


def _requires(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    return [Requirement(line.split(":", 1)[1].strip()) for line in lines
            if line.startswith("Requires-Dist:")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    return _build_wheel(_source_copy(root / "src"), root / "dist")


def test_wheel_carries_every_notebook_profile_and_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    notebooks = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
    profiles = sorted((REPO_ROOT / "notebooks" / "profiles").glob("*/*.yaml"))
    assert notebooks and profiles
    for path in notebooks + profiles:
        relative = path.relative_to(REPO_ROOT / "notebooks").as_posix()
        assert f"kerasbench/notebooks/{relative}" in names
    for module in ("kerasbench/cli/__init__.py", "kerasbench/cli/run.py",
                   "kerasbench/html_report.py", "kerasbench/notebook_runner.py",
                   "kerasbench/studies/base.py"):
        assert module in names
    assert not [name for name in names if name.startswith(("tests/", "notebooks/"))]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "kerasbench = kerasbench.cli:entry_point" in text


def test_default_wheel_requires_tensorflow_cpu_where_it_exists(wheel):
    requires = {req.name: req for req in _requires(wheel)}
    for name in ("keras", "papermill", "ipykernel", "jinja2", "tqdm", "keras-tuner"):
        assert name in requires
    linux = {"sys_platform": "linux", "platform_machine": "x86_64"}
    mac = {"sys_platform": "darwin", "platform_machine": "arm64"}
    windows = {"sys_platform": "win32", "platform_machine": "AMD64"}
    assert requires["tensorflow-cpu"].marker.evaluate(linux)
    assert requires["tensorflow-cpu"].marker.evaluate(windows)
    assert not requires["tensorflow-cpu"].marker.evaluate(mac)
    assert requires["tensorflow"].marker.evaluate(mac)
    assert not requires["tensorflow"].marker.evaluate(linux)
    assert str(requires["tensorflow-cpu"].specifier) == ">=2.16"


def test_keep_builds_a_wheel_without_tensorflow(tmp_path):
    """What the README's Kaggle / Colab cell does: the preinstalled TensorFlow stays."""
    wheel = _build_wheel(_source_copy(tmp_path / "src"), tmp_path / "dist", tensorflow="keep")
    names = {req.name for req in _requires(wheel)}
    assert "keras" in names
    assert not {"tensorflow", "tensorflow-cpu"} & names


@pytest.mark.parametrize(("value", "expected"), [
    (None, {"tensorflow-cpu", "tensorflow"}),
    ("cpu", {"tensorflow-cpu", "tensorflow"}),
    ("gpu", {"tensorflow[and-cuda]", "tensorflow"}),
    ("keep", set()),
    ("none", set()),
    ("tensorflow==2.18.1", {"tensorflow==2.18.1"}),
])
def test_kerasbench_tensorflow_choices(value, expected, monkeypatch):
    import setuptools

    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    if value is None:
        monkeypatch.delenv("KERASBENCH_TENSORFLOW", raising=False)
    else:
        monkeypatch.setenv("KERASBENCH_TENSORFLOW", value)
    monkeypatch.chdir(REPO_ROOT)
    runpy.run_path(str(REPO_ROOT / "setup.py"))
    tensorflow = set()
    for text in captured["install_requires"]:
        requirement = Requirement(text)
        if requirement.name.startswith("tensorflow") and requirement.name != "tensorflow-addons":
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            pinned = str(requirement.specifier) if value and "==" in value else ""
            tensorflow.add(requirement.name + extras + pinned)
    assert tensorflow == expected
    assert captured["package_dir"] == {"kerasbench.notebooks": "notebooks"}


def test_a_malformed_choice_is_refused(monkeypatch):
    import setuptools

    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: None)
    monkeypatch.setenv("KERASBENCH_TENSORFLOW", "tensorflow>>=nonsense[")
    with pytest.raises(SystemExit, match="KERASBENCH_TENSORFLOW"):
        runpy.run_path(str(REPO_ROOT / "setup.py"))


def test_installed_wheel_finds_its_notebooks_from_any_folder(wheel, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
         str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "empty"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("KERASBENCH_NOTEBOOKS", None)
    script = target / "bin" / "kerasbench"
    assert script.exists()
    result = subprocess.run([str(script), "list"], cwd=work, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"notebooks: {target / 'kerasbench' / 'notebooks'}" in result.stdout
    assert f"results go to: {work / 'results'}" in result.stdout
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        assert path.stem in result.stdout
