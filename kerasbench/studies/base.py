"""What every study notebook does first: folders, seed, data source, and the data note."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kerasbench.reports import data_note
from kerasbench.results import ResultsStore
from kerasbench.seeding import set_seed


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

    def store(self, name: str = "runs") -> ResultsStore:
        return ResultsStore(self.output_dir / "records" / name)


def start_study(study: str, *, profile: str, output_dir, data_dir, demo_dataset: str,
                seed: int, demo_options: dict | None = None) -> StudyContext:
    """Create the output folders, seed everything, and resolve the dataset: ``data_dir``
    None means the embedded demo data set ``demo_dataset`` (generated on first use)."""
    from kerasbench.data.sources import resolve_dataset

    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    set_seed(seed)
    source = resolve_dataset(data_dir, demo=demo_dataset, demo_options=demo_options or {})
    print(describe_device())
    return StudyContext(
        study=study, profile=profile, output_dir=output_dir, data_dir=Path(source.path),
        is_demo=source.is_demo, data_description=source.description, seed=seed,
    )


def describe_device() -> str:
    """One line for the top of a notebook: the device and the performance policy it gets
    (each study records the policy actually applied, per backbone, in its rows)."""
    from kerasbench.performance import choose_policy

    policy = choose_policy()
    placement = "in the model (on the device)" if policy.augment_on_device else "in tf.data"
    return (f"device: {policy.device}; performance policy: compute {policy.compute_dtype}, "
            f"XLA {'on' if policy.jit_compile else 'off'}, augmentation {placement}")
