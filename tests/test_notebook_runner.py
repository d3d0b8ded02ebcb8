import json

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
