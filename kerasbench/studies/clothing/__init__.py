"""Clothing classification with four frozen ImageNet backbones over a hyperparameter grid.

The protocol of ``shared/seeds/001_*.txt`` (see ``shared/studies.md`` section 2), in the
study shape of :mod:`kerasbench.studies.base`::

    context = start_study("clothing", ..., demo_generator=clothing.make_demo_data)
    data = clothing.load_data(context, max_per_class=...)
    planned = clothing.configs(backbones=..., image_sizes=..., seeds=[42, 43, 44])
    records = clothing.run(context, data, planned)
    tables = clothing.tables(records, context)      # "headline", "paired", grid, finals...
    figures = clothing.figures(records, context)    # "seed_spread", pies, confusion matrices
    comparison = clothing.compare_with_paper(records, context)  # the paper's F1 and a verdict

Each seed repeats the whole protocol (its grid, its choice, its final model) unless
``grid_per_seed=False``; the headline is the final models' test macro F1 and accuracy per
backbone over seeds with 95 % intervals, and the best backbone is compared with each other
one on the same test images (see :mod:`.tables`).

Modules: :mod:`.protocol` (configs, run), :mod:`.grid` (one backbone's grid through the
engine's KerasTuner grid), :mod:`.finals` (final models), :mod:`.data`, :mod:`.paper`
(the paper's numbers), :mod:`.tables`, :mod:`.figures`, :mod:`.ood` (photos that are not
clothing) and :mod:`.demo` (the demo data).
"""

from kerasbench.studies.clothing.data import DATASET_NAMES, data_dir_for, load_data
from kerasbench.studies.clothing.demo import CLOTHING_CLASSES, make_demo_data
from kerasbench.studies.clothing.figures import figures
from kerasbench.studies.clothing.finals import best_grid_record, load_final_model
from kerasbench.studies.clothing.grid import PROTOCOL_VERSION, STUDY, FrozenBackboneGrid
from kerasbench.studies.clothing.ood import (
    demo_ood_folder,
    ood_figure,
    ood_table,
    open_set_answers,
    predict_folder,
)
from kerasbench.studies.clothing.paper import (
    DISPLAY_NAMES,
    PAPER,
    PAPER_BACKBONES,
    PAPER_FINAL,
    PAPER_GRID,
    PAPER_GRID_BEST,
    PAPER_OOD,
    PAPER_TABLE_I,
    display_name,
    paper_table_one,
)
from kerasbench.studies.clothing.protocol import configs, run
from kerasbench.studies.clothing.tables import compare_with_paper, tables

__all__ = [
    "CLOTHING_CLASSES", "DATASET_NAMES", "DISPLAY_NAMES", "PAPER", "PAPER_BACKBONES",
    "PAPER_FINAL", "PAPER_GRID", "PAPER_GRID_BEST", "PAPER_OOD", "PAPER_TABLE_I",
    "PROTOCOL_VERSION", "STUDY", "FrozenBackboneGrid", "best_grid_record", "compare_with_paper",
    "configs", "data_dir_for", "demo_ood_folder", "display_name", "figures", "load_data",
    "load_final_model", "make_demo_data", "ood_figure", "ood_table", "open_set_answers",
    "paper_table_one", "predict_folder", "run", "tables",
]
