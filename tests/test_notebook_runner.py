import functools
import json
from pathlib import Path

import nbformat
import pytest

from kerasbench import notebook_runner
from kerasbench.errors import ConfigError


def _write_study(tmp_path, body="assert isinstance(epochs, int)\nopen('done.txt', 'w').write(str(epochs))"):
    notebooks = tmp_path / "notebooks"
    profiles = notebooks / "profiles" / "toy"
    profiles.mkdir(parents=True)
    parameters = nbformat.v4.new_code_cell(
        'profile = "demo"  # profile name\ndata_dir = None  # dataset folder\n'
        'output_dir = "results"  # where outputs go\nepochs = 1  # training epochs'
    )
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(body)])
    notebook.metadata["kernelspec"] = {"name": "kerasbench", "display_name": "Python (kerasbench)",
                                       "language": "python"}
    nbformat.write(notebook, notebooks / "toy.ipynb")
    (profiles / "demo.yaml").write_text("epochs: 3\n")
    (profiles / "bad.yaml").write_text("epochz: 3\n")
    return notebooks, notebooks / "profiles"


def test_parameters_are_read_from_the_tagged_cell(tmp_path):
    notebooks, _ = _write_study(tmp_path)
    assert notebook_runner.notebook_parameters(notebooks / "toy.ipynb")["epochs"] == "1"


def test_unknown_profile_parameter_is_an_error(tmp_path):
    notebooks, profiles = _write_study(tmp_path)
    with pytest.raises(ConfigError, match="epochz"):
        notebook_runner.resolve_parameters("toy", "bad", output_dir=tmp_path, notebooks=notebooks,
                                           profiles=profiles)
    with pytest.raises(ConfigError, match="profiles for toy"):
        notebook_runner.load_profile("toy", "nope", profiles)
    with pytest.raises(ConfigError, match="studies present"):
        notebook_runner.notebook_path("nope", notebooks)


def test_run_study_executes_with_profile_values(tmp_path):
    notebooks, profiles = _write_study(tmp_path)
    executed = notebook_runner.run_study("toy", "demo", results_root=tmp_path / "results",
                                         notebooks=notebooks, profiles=profiles, timeout=120)
    assert executed.exists()
    assert (executed.parent / "done.txt").read_text() == "3"  # ran in its output folder


def test_failed_notebook_keeps_its_output_with_the_error(tmp_path):
    notebooks, profiles = _write_study(tmp_path, body="raise RuntimeError('boom in cell')")
    with pytest.raises(Exception, match="boom"):
        notebook_runner.run_study("toy", "demo", results_root=tmp_path / "results",
                                  notebooks=notebooks, profiles=profiles, timeout=120)
    executed = tmp_path / "results" / "demo" / "toy" / "toy.ipynb"
    assert "boom in cell" in json.dumps(nbformat.read(executed, as_version=4))


def test_notebooks_are_found_in_the_clone_or_where_told(tmp_path, monkeypatch):
    monkeypatch.delenv("KERASBENCH_NOTEBOOKS", raising=False)
    clone = Path(notebook_runner.__file__).resolve().parents[1] / "notebooks"
    assert notebook_runner.notebooks_dir() == clone  # no packaged copy in a clone
    notebooks, _ = _write_study(tmp_path)
    monkeypatch.setenv("KERASBENCH_NOTEBOOKS", str(notebooks))
    assert notebook_runner.notebooks_dir() == notebooks
    assert notebook_runner.profiles_dir() == notebooks / "profiles"
    # An unregistered notebook with a profiles folder is a study too.
    assert notebook_runner.list_studies() == ["toy"]
    assert notebook_runner.list_profiles("toy") == ["bad", "demo"]


def test_results_default_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert notebook_runner.default_results_root() == tmp_path / "results"


def test_overrides_are_yaml_and_checked(tmp_path):
    notebooks, profiles = _write_study(tmp_path)
    assert notebook_runner.parse_assignments(["epochs=5", "sizes=[32, 64]", "w=null", "s=x=y"]) == {
        "epochs": 5, "sizes": [32, 64], "w": None, "s": "x=y"}
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        notebook_runner.parse_assignments(["epochs"])
    values = notebook_runner.resolve_parameters("toy", "demo", output_dir=tmp_path, notebooks=notebooks,
                                                profiles=profiles, overrides={"epochs": 9})
    assert values["epochs"] == 9 and values["profile"] == "demo"
    with pytest.raises(ConfigError, match=r"-p sets \['epochz'\]"):
        notebook_runner.resolve_parameters("toy", "demo", output_dir=tmp_path, notebooks=notebooks,
                                           profiles=profiles, overrides={"epochz": 9})


def test_data_dir_folder_is_absolute_and_a_name_stays_a_name(tmp_path, monkeypatch):
    notebooks, profiles = _write_study(tmp_path)
    (tmp_path / "mydata").mkdir()
    monkeypatch.chdir(tmp_path)
    resolve = functools.partial(notebook_runner.resolve_parameters, "toy", "demo",
                                output_dir=tmp_path, notebooks=notebooks, profiles=profiles)
    assert resolve(data_dir="mydata")["data_dir"] == str(tmp_path / "mydata")
    assert resolve(data_dir="fer2013")["data_dir"] == "fer2013"  # looked up by the study


def test_path_parameters_existing_here_become_absolute(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"x")
    values = notebook_runner.absolute_paths(
        {"weights": "w.h5", "csv_path": "nope.csv", "ood_dir": ".", "epochs": 3,
         "other": "w.h5"}, base=tmp_path)
    assert values == {"weights": str(tmp_path / "w.h5"), "csv_path": "nope.csv",
                      "ood_dir": str(tmp_path), "epochs": 3, "other": "w.h5"}
    assert notebook_runner.absolute_paths({"weights": "imagenet"}, base=tmp_path) == {
        "weights": "imagenet"}


def test_module_alias_runs_the_command(tmp_path, monkeypatch):
    notebooks, _ = _write_study(tmp_path)
    monkeypatch.setenv("KERASBENCH_NOTEBOOKS", str(notebooks))
    code = notebook_runner.main(["--study", "toy", "--profile", "demo", "--results",
                                 str(tmp_path / "out"), "--timeout", "120"])
    assert code == 0
    assert (tmp_path / "out" / "demo" / "toy" / "done.txt").read_text() == "3"


def test_a_weights_file_is_found_in_the_weights_dir_by_name(tmp_path, monkeypatch):
    (tmp_path / "w" / "inner").mkdir(parents=True)
    (tmp_path / "w" / "inner" / "squeeze.h5").write_bytes(b"x")
    monkeypatch.setenv("KERASBENCH_WEIGHTS_DIR", str(tmp_path / "w"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    values = notebook_runner.absolute_paths({"weights": "../elsewhere/squeeze.h5"}, base=tmp_path)
    assert values == {"weights": str(tmp_path / "w" / "inner" / "squeeze.h5")}
    assert notebook_runner.absolute_paths({"weights": "missing.h5"}, base=tmp_path) == {
        "weights": "missing.h5"}
