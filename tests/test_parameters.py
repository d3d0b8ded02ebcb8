"""Typed notebook parameters: parsing annotations and checking values against them."""

import nbformat
import pytest

from kerasbench.errors import ConfigError
from kerasbench.parameters import ParameterType, check_values, declared_types, untyped


@pytest.mark.parametrize("text, good, bad", [
    ("int", [1, 0, -3], [1.5, "1", True, None]),
    ("float", [0.1, 1], ["0.01", None, False]),
    ("str | None", ["x", None], [1]),
    ("bool", [True, False], [1, "yes"]),
    ("list[int]", [[16], [1, 2], []], ["16", 8, [1.5], ["1"]]),
    ("list[float]", [[0.1, 1]], [[None], "0.1"]),
    ("list[int | None]", [[None, 2]], [[1.5]]),
    ("dict | None", [{}, None], [[1]]),
    ("Optional[list[str]]", [None, ["a"]], [["a", 1]]),
])
def test_types_accept_and_refuse(text, good, bad):
    declared = ParameterType.parse(text)
    assert all(declared.accepts(value) for value in good)
    assert not any(declared.accepts(value) for value in bad)


def test_unsupported_annotation_is_an_error():
    with pytest.raises(ConfigError, match="unsupported"):
        ParameterType.parse("numpy.ndarray")


@pytest.mark.parametrize("values, message", [
    ({"batch_sizes": "16"}, r"batch_sizes='16' is str, expected list\[int\]"),
    ({"batch_sizes": 8}, r"write a list, e\.g\. \[8\]"),
    ({"epochs": "1"}, "without quotes"),
    ({"learning_rate": "0.01"}, "learning_rate='0.01' is str, expected float"),
    ({"image_sizes": "32"}, r"expected list\[int\]"),
])
def test_the_issues_bad_values_name_parameter_value_and_type(values, message):
    types = {"batch_sizes": ParameterType.parse("list[int]"),
             "image_sizes": ParameterType.parse("list[int]"),
             "epochs": ParameterType.parse("int"),
             "learning_rate": ParameterType.parse("float")}
    with pytest.raises(ConfigError, match=message):
        check_values(values, types, source="-p")


def test_declared_types_read_from_a_notebook(tmp_path):
    cell = nbformat.v4.new_code_cell('epochs: int = 1  # training epochs\n'
                                     'sizes: list[int] = [32]  # image sizes\nplain = 3')
    cell.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}
    nbformat.write(notebook, tmp_path / "n.ipynb")
    types = declared_types(tmp_path / "n.ipynb")
    assert types["epochs"].base == "int" and types["sizes"].item.base == "int"
    assert untyped(types) == ["plain"]


def test_every_study_notebook_declares_every_parameter_type():
    from kerasbench.notebook_runner import notebook_path
    from kerasbench.studies import STUDIES

    for study in STUDIES:
        types = declared_types(notebook_path(study))
        assert untyped(types) == [], f"{study}: parameters without a declared type"
        for profile in ("demo", "test", "paper"):
            from kerasbench.notebook_runner import load_profile

            check_values(load_profile(study, profile), types, source=f"{study}/{profile}")


def test_shared_weights_and_augmentation_checks_name_the_setting():
    from kerasbench.validate import augmentation_settings, weights_setting

    assert weights_setting("imagenet") == "imagenet" and weights_setting(None) is None
    with pytest.raises(ConfigError, match=r"weights must be None, 'imagenet'.*got 3 \(int\)"):
        weights_setting(3)
    assert augmentation_settings({"horizontal_flip": True}) == {"horizontal_flip": True}
    with pytest.raises(ConfigError, match="augmentation must be a dict"):
        augmentation_settings("flip")
    with pytest.raises(ConfigError, match="augmentation: .*rotaton_range"):
        augmentation_settings({"rotaton_range": 10})
