"""Every study notebook runs top to bottom under papermill with its tiny `test` profile."""

import pytest

from kerasbench import notebook_runner

STUDIES = notebook_runner.list_studies()


@pytest.mark.slow
@pytest.mark.parametrize("study", STUDIES)
def test_study_notebook_runs(study, tmp_path):
    executed = notebook_runner.run_study(study, "test", results_root=tmp_path, timeout=600)
    output_dir = executed.parent
    assert list((output_dir / "records").rglob("*.json")), "the notebook wrote no run records"
    assert list((output_dir / "tables").glob("*.csv")), "the notebook wrote no tables"
    assert list((output_dir / "figures").glob("*.png")), "the notebook wrote no figures"


@pytest.mark.parametrize("study", STUDIES)
def test_profiles_match_notebook_parameters(study, tmp_path):
    for profile in ("demo", "paper", "test"):
        notebook_runner.resolve_parameters(study, profile, output_dir=tmp_path)


@pytest.mark.parametrize("study", STUDIES)
def test_notebook_declares_what_the_runner_sets(study):
    declared = notebook_runner.notebook_parameters(notebook_runner.notebook_path(study))
    assert set(notebook_runner.RUNNER_PARAMETERS) <= set(declared)


def test_studies_are_found():
    assert STUDIES, f"no study notebooks in {notebook_runner.notebooks_dir()}"
