"""``kerasbench weights``: which weight files each study and profile needs, where they are
looked for, which are present, and their sha256."""

from __future__ import annotations

import argparse
import hashlib
from functools import cache
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "weights", help="weight files each study/profile needs, where looked for, present or not",
        description="For every study and profile: the backbones, the weights setting, the "
                    "file that setting reads, and whether it is present. Files are looked "
                    "for in $KERASBENCH_WEIGHTS_DIR (searched a few folders deep; `kerasbench "
                    "run` links its files into Keras's cache) and in Keras's cache "
                    "($KERAS_HOME/models or ~/.keras/models). Present files are listed with "
                    "their sha256. With --check, exit status 1 when a needed file is "
                    "missing and Keras cannot download it.")
    parser.add_argument("studies", nargs="*", metavar="STUDY", help="only these studies")
    parser.add_argument("--profile", action="append",
                        help="only this profile (repeatable; default: every profile)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a needed file is missing (downloads count as missing "
                             "with --offline)")
    parser.add_argument("--offline", action="store_true",
                        help="treat files Keras would download as missing (Kaggle without "
                             "internet)")
    parser.set_defaults(handler=main)


@cache
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backbone_names(settings: dict) -> list[str]:
    """The registry names a study's parameters build (``backbone``, ``backbones`` as a
    list or a {label: name} mapping, or ``squeezenet_version``)."""
    names = []
    if isinstance(settings.get("backbone"), str):
        names.append(settings["backbone"])
    backbones = settings.get("backbones")
    if isinstance(backbones, dict):
        names += [str(name) for name in backbones.values()]
    elif isinstance(backbones, (list, tuple)):
        names += [str(name) for name in backbones]
    if settings.get("squeezenet_version") is not None:
        from kerasbench.siamese.model import squeezenet_backbone_name

        names.append(squeezenet_backbone_name(settings["squeezenet_version"]))
    return list(dict.fromkeys(name.lower() for name in names))


def needs(settings: dict) -> list[dict]:
    """One row per backbone: the file its ``weights`` setting reads and where it is."""
    from kerasbench.backbones.registry import get_backbone
    from kerasbench.cli.common import find_weight_file

    weights = settings.get("weights")
    rows = []
    for name in backbone_names(settings):
        row = {"backbone": name, "weights": "none" if weights is None else str(weights)}
        if weights is None:
            rows.append({**row, "file": "-", "status": "random init: no file"})
            continue
        if str(weights) == "imagenet":
            spec = get_backbone(name)
            if spec.imagenet_file is None:
                rows.append({**row, "file": "-", "status": "NO ImageNet weights known"})
                continue
            file_name, downloadable = spec.imagenet_file, spec.imagenet_download
        else:
            given = Path(str(weights)).expanduser()
            if given.is_file():
                rows.append({**row, "file": given.name, "status": "present", "path": given})
                continue
            file_name, downloadable = given.name, False
        found, looked = find_weight_file(file_name)
        if found is not None:
            rows.append({**row, "file": file_name, "status": "present", "path": found})
        else:
            rows.append({**row, "file": file_name, "downloadable": downloadable,
                         "status": "missing: Keras downloads it (needs internet)"
                         if downloadable else "MISSING", "looked": looked})
    return rows


def main(args: argparse.Namespace) -> int:
    from kerasbench.cli.common import available_studies, check_study, table, weights_folders
    from kerasbench.notebook_runner import (
        list_profiles,
        load_profile,
        notebook_defaults,
        notebook_path,
    )

    studies = [check_study(s) for s in args.studies] if args.studies else available_studies()
    print("looked for in: " + "; ".join(
        f"{folder} ({why}{'' if folder.is_dir() else ', absent'})"
        for folder, why in weights_folders()))
    rows, present, missing = [], {}, 0
    for study in studies:
        defaults = notebook_defaults(notebook_path(study))
        for profile in list_profiles(study):
            if args.profile and profile not in args.profile:
                continue
            settings = {**defaults, **load_profile(study, profile)}
            for row in needs(settings):
                rows.append({"study": study, "profile": profile, **row})
                if "path" in row:
                    present[str(row["path"])] = row["path"]
                elif row["status"] == "MISSING" or (args.offline and row.get("downloadable")):
                    missing += 1
    print(table(rows, ["study", "profile", "backbone", "weights", "file", "status"]))
    if present:
        print("\npresent files (sha256):")
        for text, path in sorted(present.items()):
            print(f"  {sha256(Path(path))}  {text}")
    if missing:
        print(f"\n{missing} needed file(s) missing: put them in $KERASBENCH_WEIGHTS_DIR or "
              f"{weights_folders()[-1][0]} (the names above), or set weights to null")
    return 1 if args.check and missing else 0
