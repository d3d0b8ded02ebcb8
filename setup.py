"""Packaging that setup.cfg cannot say: the notebooks as package data, and which TensorFlow.

Notebooks and profiles stay in ``notebooks/`` at the repository root and ship inside the
wheel as ``kerasbench/notebooks/`` (``package_dir`` maps one onto the other); the command
line finds them in either place.

TensorFlow comes in several distributions that install the same ``tensorflow`` package
(``tensorflow``, ``tensorflow-cpu``, ...); requiring one on top of another breaks both.
``KERASBENCH_TENSORFLOW`` (read when pip builds kerasbench from source) chooses:

- unset or ``cpu``: ``tensorflow-cpu`` on Linux x86-64 and Windows, ``tensorflow``
  elsewhere (macOS, ARM, where there is no ``tensorflow-cpu``);
- ``gpu``: ``tensorflow[and-cuda]`` on Linux (CUDA libraries from pip), ``tensorflow``
  elsewhere;
- ``keep`` (or ``none``): no TensorFlow requirement; the TensorFlow already installed
  (Kaggle, Colab, a conda environment) is used as it is;
- anything else: taken as the requirement itself, e.g. ``tensorflow==2.18.1``.
"""

import os

from setuptools import find_packages, setup

TENSORFLOW_MINIMUM = "2.16"  # the first TensorFlow whose Keras is Keras 3
# Where PyPI has tensorflow-cpu wheels (PEP 508 markers have no "not": spelled out).
CPU_WHEELS = ('(sys_platform == "linux" and platform_machine == "x86_64") or '
              '(sys_platform == "win32" and platform_machine == "AMD64")')
NO_CPU_WHEELS = ('(sys_platform != "linux" or platform_machine != "x86_64") and '
                 '(sys_platform != "win32" or platform_machine != "AMD64")')


def tensorflow_requirements(choice):
    """The TensorFlow requirement for a ``KERASBENCH_TENSORFLOW`` value (module docstring)."""
    choice = (choice or "cpu").strip()
    minimum = f">={TENSORFLOW_MINIMUM}"
    if choice.lower() == "cpu":
        return [f"tensorflow-cpu{minimum}; {CPU_WHEELS}", f"tensorflow{minimum}; {NO_CPU_WHEELS}"]
    if choice.lower() == "gpu":
        return [f'tensorflow[and-cuda]{minimum}; sys_platform == "linux"',
                f'tensorflow{minimum}; sys_platform != "linux"']
    if choice.lower() in ("keep", "none", "no"):
        return []
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # validated by pip when it reads the metadata instead
        return [choice]
    try:
        Requirement(choice)
    except InvalidRequirement as error:
        raise SystemExit(f"KERASBENCH_TENSORFLOW={choice!r} is neither cpu, gpu, keep nor a "
                         f"requirement such as tensorflow==2.18.1: {error}") from None
    return [choice]


REQUIREMENTS = [
    "keras>=3.10",
    "keras-tuner>=1.4.7",
    "tensorboard>=2.16",
    "imbalanced-learn>=0.12",
    "scikit-learn>=1.3",
    "scipy>=1.11",
    "numpy>=1.26",
    "pandas>=2.0",
    "matplotlib>=3.7",
    "pillow>=10.0",
    "pyyaml>=6.0",
    "tabulate>=0.9",
    "h5py>=3.10",
    # running notebooks (kerasbench run), the HTML report, progress bars
    "papermill>=2.5",
    "nbformat>=5.9",
    "ipykernel>=6.25",
    "jinja2>=3.1",
    "tqdm>=4.66",
]

setup(
    packages=find_packages(include=["kerasbench", "kerasbench.*"]) + ["kerasbench.notebooks"],
    package_dir={"kerasbench.notebooks": "notebooks"},
    package_data={"kerasbench.notebooks": ["*.ipynb", "profiles/*/*.yaml"]},
    install_requires=REQUIREMENTS + tensorflow_requirements(os.environ.get("KERASBENCH_TENSORFLOW")),
)
