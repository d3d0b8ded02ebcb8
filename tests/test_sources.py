"""Data roots and dataset look-up with demo fallback (the FER2013 CSV: test_fer2013_csv.py)."""

from pathlib import Path

import pytest

from kerasbench.data import sources
from kerasbench.data.demo import MARKER
from kerasbench.data.sources import resolve_dataset
from kerasbench.errors import ConfigError

# ----------------------------------------------------------------------------- roots


@pytest.fixture
def no_data_env(monkeypatch, tmp_path):
    """No DATA_DIR / KERASBENCH_DATA, no shared data, an empty Kaggle input, demo in tmp."""
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.delenv("KERASBENCH_DATA", raising=False)
    monkeypatch.setattr(sources, "repo_root", lambda: tmp_path / "checkout" / "repo")
    monkeypatch.setattr(sources, "KAGGLE_INPUT", tmp_path / "kaggle" / "input")
    monkeypatch.setenv("KERASBENCH_DEMO_DIR", str(tmp_path / "demo-cache"))
    return tmp_path


def test_data_root_order(no_data_env, monkeypatch):
    assert sources.data_root() is None
    shared = no_data_env / "checkout" / "shared" / "data"
    shared.mkdir(parents=True)
    assert sources.data_root() == shared
    monkeypatch.setenv("KERASBENCH_DATA", str(no_data_env / "elsewhere"))
    assert sources.data_root() == no_data_env / "elsewhere"


def test_data_root_default_is_beside_the_repository(monkeypatch):
    monkeypatch.delenv("KERASBENCH_DATA", raising=False)
    shared = Path(sources.repo_root()).parent / "shared" / "data"
    assert sources.data_root() == (shared if shared.is_dir() else None)
    assert (sources.repo_root() / "kerasbench").is_dir()


def test_resolve_existing_path(no_data_env):
    folder = no_data_env / "mydata"
    folder.mkdir()
    source = resolve_dataset(folder)
    assert source.path == folder.resolve() and source.is_demo is False
    path, is_demo, description = resolve_dataset(str(folder))
    assert path == folder.resolve() and not is_demo and str(folder) in description


def test_resolve_missing_path(no_data_env):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_dataset(no_data_env / "missing")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_dataset("./relative/missing")


@pytest.mark.parametrize("where", ["DATA_DIR", "KERASBENCH_DATA", "kaggle"])
def test_resolve_by_name(no_data_env, monkeypatch, where):
    base = no_data_env / where
    if where == "kaggle":
        monkeypatch.setattr(sources, "KAGGLE_INPUT", base)
    else:
        monkeypatch.setenv(where, str(base))
    (base / "clothing-dataset-small").mkdir(parents=True)
    source = resolve_dataset("clothing-small", candidates=["clothing-dataset-small"])
    assert source.path == (base / "clothing-dataset-small").resolve()
    assert not source.is_demo


def test_data_dir_comes_before_kerasbench_data(no_data_env, monkeypatch):
    for env in ("DATA_DIR", "KERASBENCH_DATA"):
        (no_data_env / env / "orl-faces").mkdir(parents=True)
        monkeypatch.setenv(env, str(no_data_env / env))
    assert resolve_dataset("orl-faces").path == (no_data_env / "DATA_DIR" / "orl-faces").resolve()


def test_not_found_lists_where_it_looked(no_data_env, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(no_data_env / "dd"))
    with pytest.raises(FileNotFoundError) as info:
        resolve_dataset("covid-xray", candidates=["covid19-radiography"])
    message = str(info.value)
    assert str(no_data_env / "dd" / "covid-xray") in message
    assert str(no_data_env / "kaggle" / "input" / "covid19-radiography") in message
    assert "datasets.md" in message and "demo" in message


def test_demo_sources(no_data_env, capsys):
    from kerasbench.studies.faces import make_demo_data

    options = {"people": 2, "images_per_person": 2}
    for value in ("demo", None):
        source = resolve_dataset(value, demo=make_demo_data, demo_options=options)
        assert source.is_demo and "synthetic demo data" in source.description
        assert (source.path / MARKER).is_file()
        assert source.path.parent == no_data_env / "demo-cache"
    # A demo folder given as a path is still demo data.
    assert resolve_dataset(source.path).is_demo
    auto = resolve_dataset("auto", demo=make_demo_data, candidates=["orl"],
                           demo_options=options)
    assert auto.is_demo and "using synthetic demo data" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="demo"):
        resolve_dataset("demo")
    with pytest.raises(ConfigError, match="demo"):
        resolve_dataset(None)


def test_find_dataset_root_steps_through_wrapper_folders(tmp_path, capsys):
    from kerasbench.data.sources import find_dataset_root

    deep = tmp_path / "slug" / "Inner"
    for name in ("covid", "normal"):
        (deep / name).mkdir(parents=True)
        (deep / name / "a.png").write_bytes(b"x")
    (tmp_path / "slug" / "README.txt").write_text("about")
    assert find_dataset_root(tmp_path) == deep
    assert "holds only" in capsys.readouterr().out
    # A split folder or a lone class folder is never stepped into.
    split = tmp_path / "split"
    (split / "train" / "a").mkdir(parents=True)
    assert find_dataset_root(split, quiet=True) == split
    lone = tmp_path / "lone"
    (lone / "only_class").mkdir(parents=True)
    (lone / "only_class" / "x.png").write_bytes(b"x")
    assert find_dataset_root(lone, quiet=True) == lone
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_dataset_root(tmp_path / "missing")
