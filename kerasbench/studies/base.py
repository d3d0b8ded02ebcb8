"""What every study shares: the verbs, the registry, and the context a run writes into.

Each study is a subpackage ``kerasbench/studies/<name>/`` exposing the same verbs, with
the same signatures where the meaning is the same:

``load_data(context, **options)``
    the study's data (a :class:`~kerasbench.data.index.DatasetIndex` or the study's own
    data object), with a ``fingerprint`` for run identity.
``configs(**protocol_settings) -> list[PlannedRun]``
    the runs the protocol asks for (experiment name + resolved config each).
``run(context, data, planned, *, overwrite=False, progress=True, verbose=0) -> list[RunRecord]``
    trains what is not finished yet through :mod:`kerasbench.engine`; returns every
    planned run's record.
``tables(records, context) -> dict[str, DataFrame]``,
``figures(records, context) -> dict[str, Path]``,
``compare_with_paper(records, context) -> DataFrame``
    built from the records' flat rows, every one labelled with the data it came from.

plus ``PROTOCOL_VERSION`` and the paper's constants (``paper.py``) and the study's demo
data generator (``demo.py``: ``make_demo_data(folder, *, seed=0, **options)``).
:data:`STUDIES` lists them for the notebook runner and the command line.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kerasbench.errors import ConfigError
from kerasbench.io import write_json_atomic
from kerasbench.reports import data_note, save_table
from kerasbench.seeding import set_seed
from kerasbench.store import RunStore

VERBS = ("load_data", "configs", "run", "tables", "figures", "compare_with_paper")


@dataclass(frozen=True)
class StudyInfo:
    name: str
    title: str
    notebook: str
    profiles: tuple = ("demo", "test", "paper")
    data: str = ""  # what real data the paper profile needs (see datasets.md)

    @property
    def module(self):
        """The study's subpackage (imported on first use: studies import TensorFlow)."""
        return importlib.import_module(f"kerasbench.studies.{self.name}")


STUDIES: dict[str, StudyInfo] = {
    info.name: info for info in (
        StudyInfo("faces", "Siamese face verification (SqueezeNet, contrastive loss)",
                  "faces.ipynb", data="a folder of people, one sub-folder each (ORL faces)"),
        StudyInfo("clothing", "Clothing classification: four frozen ImageNet backbones, 27-point grid",
                  "clothing.ipynb", data="clothing-dataset (10 classes, train/validation/test)"),
        StudyInfo("fer2013", "FER2013 emotions: ResNet50 vs VGG19, with and without oversampling",
                  "fer2013.ipynb", data="FER2013 image folders (train/test) or fer2013.csv"),
        StudyInfo("down_syndrome", "Down syndrome faces: ResNet transfer learning, AdamW",
                  "down_syndrome.ipynb", data="two class folders (down_syndrome, healthy)"),
        StudyInfo("covid_xray", "COVID X-ray: InceptionV3 learning-rate and batch-size sweeps",
                  "covid_xray.ipynb", data="two class folders (covid, normal)"),
    )
}


def get_study(name: str) -> StudyInfo:
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; studies: {sorted(STUDIES)}")
    return STUDIES[name]


@dataclass(frozen=True)
class PlannedRun:
    """One run a protocol asks for: which experiment it belongs to, and its config."""

    experiment: str
    config: dict = field(default_factory=dict)


@dataclass
class StudyContext:
    """Where a study run writes, which data it read, and how its outputs are labelled."""

    study: str
    profile: str
    output_dir: Path
    data_dir: Path
    is_demo: bool
    data_description: str
    seed: int

    @property
    def note(self) -> str:
        """The line every table and figure carries (says loudly when it is demo data)."""
        return data_note(self.is_demo, self.data_description)

    @property
    def figures_dir(self) -> Path:
        return self._folder("figures")

    @property
    def tables_dir(self) -> Path:
        return self._folder("tables")

    def _folder(self, name: str) -> Path:
        folder = self.output_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def figure(self, name: str) -> Path:
        return self.figures_dir / f"{name}.png"

    def table(self, name: str) -> Path:
        return self.tables_dir / name

    def store(self, name: str = "runs") -> RunStore:
        return RunStore(self.output_dir / "records" / name)

    def save_table(self, frame: pd.DataFrame, name: str, *, index: bool = False,
                   decimals: int | None = None) -> dict:
        """``tables/<name>.csv`` (with a ``demo`` column) and ``.md`` (with the data note,
        flat, rounded to ``decimals`` places when given), both written atomically."""
        return save_table(frame, self.table(name), note=self.note, index=index,
                          demo=self.is_demo, decimals=decimals)


def start_study(study: str, *, profile: str, output_dir, data_dir, demo_generator,
                seed: int, demo_options: dict | None = None) -> StudyContext:
    """Create the output folders, seed everything, and resolve the dataset: ``data_dir``
    None means the study's embedded demo data (``demo_generator``, made on first use).

    ``output_dir`` None (a notebook opened in Jupyter) means ``results/<profile>/<study>``
    of the current folder, so outputs follow the profile. ``context.json`` there records
    which data the run read (the HTML report reads it back)."""
    from kerasbench.data.sources import resolve_dataset

    if output_dir is None:
        output_dir = Path("results") / str(profile) / study
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    set_seed(seed)
    source = resolve_dataset(data_dir, demo=demo_generator, demo_options=demo_options or {})
    print(describe_device())
    context = StudyContext(
        study=study, profile=profile, output_dir=output_dir, data_dir=Path(source.path),
        is_demo=source.is_demo, data_description=source.description, seed=seed,
    )
    write_json_atomic(output_dir / "context.json", {
        "study": study, "profile": profile, "data_dir": str(context.data_dir),
        "is_demo": context.is_demo, "data_description": context.data_description,
        "seed": seed})
    return context


def describe_device() -> str:
    """One line for the top of a notebook: the device and the performance policy it gets
    (each study records the policy actually applied, per backbone, in its records)."""
    from kerasbench.performance import choose_policy

    policy = choose_policy()
    placement = "in the model (on the device)" if policy.augment_on_device else "in tf.data"
    return (f"device: {policy.device}; performance policy: compute {policy.compute_dtype}, "
            f"XLA {'on' if policy.jit_compile else 'off'}, augmentation {placement}")


def check_records(records, study: str) -> list:
    """The records as a list; no records, or an unfinished one, is an error that says to
    run the study first (tables and figures are built from finished runs only)."""
    from kerasbench.records import RunRecord

    records = list(records)
    if not records:
        raise ValueError(f"no records: run the study first ({study}.run)")
    for record in records:
        if not isinstance(record, RunRecord) or not record.finished:
            raise ValueError(f"expected finished RunRecords from {study}.run, got "
                             f"{getattr(record, 'status', type(record).__name__)!r}")
    return records


def check_study_module(module) -> None:
    """A study subpackage must expose every verb and its protocol version."""
    missing = [verb for verb in (*VERBS, "PROTOCOL_VERSION", "make_demo_data")
               if not hasattr(module, verb)]
    if missing:
        raise ConfigError(f"study {module.__name__} lacks {missing}")
