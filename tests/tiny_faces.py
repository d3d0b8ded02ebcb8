"""The tiny synthetic faces study data several tests train on: 8 people x 5 images, split
by person (4 train, 2 validation, 2 test), 6 evaluation pairs per person."""

from pathlib import Path


def tiny_faces(folder: Path, image_size: int = 40):
    """``(context, data)``: a test-profile faces context writing under ``folder/out`` and
    its loaded data."""
    from kerasbench.studies import faces
    from kerasbench.studies.base import StudyContext

    people = faces.make_demo_data(Path(folder) / "people", people=8, images_per_person=5,
                                  image_size=image_size)
    context = StudyContext(study="faces", profile="test", output_dir=Path(folder) / "out",
                           data_dir=people, is_demo=True, data_description="demo", seed=3)
    data = faces.load_data(context, image_size=image_size, test_fraction=0.25,
                           validation_fraction=0.25, evaluation_pairs_per_person=6)
    return context, data
