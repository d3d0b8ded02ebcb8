"""``kerasbench check-data STUDY DIR``: the index a run would build, without training."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import warnings
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "check-data", help="index a dataset folder as a run would, without training",
        description="Index DIR the way a run of STUDY would (kerasbench.data.index."
                    "index_folder, with the profile's split fractions, seed and excluded "
                    "folders): the classes, images per class and split, every file left "
                    "out and why, and the problems a run would stop on. Nothing is "
                    "trained and nothing is written. Exit status 0 when the folder can be "
                    "used, 1 when it cannot.")
    parser.add_argument("study", metavar="STUDY", help="study name (see `kerasbench list`)")
    parser.add_argument("folder", metavar="DIR", help="the dataset folder (or a name looked "
                        "up under the data root)")
    parser.add_argument("--profile", default="paper",
                        help="whose parameters to apply (default: paper)")
    parser.add_argument("--data-root", default=None, help="folder holding datasets by name")
    parser.add_argument("--check-images", choices=("verify", "decode", "none"), default="verify",
                        help="open every image (verify, default), decode it fully, or not")
    parser.add_argument("--max-listed", type=int, default=20, metavar="N",
                        help="files listed per reason (default 20)")
    parser.set_defaults(handler=main)


def _settings(study: str, profile: str) -> dict:
    """The notebook's defaults with the profile's values on top."""
    from kerasbench.notebook_runner import load_profile, notebook_defaults, notebook_path

    values = notebook_defaults(notebook_path(study))
    values.update(load_profile(study, profile))
    return values


def _resolve_folder(text: str) -> Path:
    path = Path(text).expanduser()
    if path.exists():
        return path.resolve()
    from kerasbench.data.sources import resolve_dataset

    return Path(resolve_dataset(text).path)


def _skip_reason(relative: Path, image_extensions, excluded: set) -> str:
    parts = relative.parts
    if any(part.startswith(".") or part == "__MACOSX" for part in parts):
        return "hidden entry"
    if excluded & {part.lower() for part in parts[:-1]}:
        return "in an excluded folder (exclude_folders)"
    if relative.suffix.lower() not in image_extensions:
        return f"not an image ({relative.suffix or 'no extension'})"
    if len(parts) == 1 or (len(parts) == 2 and parts[0].lower() in
                           ("train", "validation", "val", "valid", "test")):
        return "outside a class folder"
    return "unreadable image"


def _skipped_files(root: Path, indexed: set, image_extensions, excluded: set) -> dict:
    reasons: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if str(path) in indexed:
                continue
            relative = path.relative_to(root)
            reasons.setdefault(_skip_reason(relative, image_extensions, excluded), []).append(
                str(relative))
        for name in [d for d in dirnames if d.startswith(".") or d == "__MACOSX"]:
            reasons.setdefault("hidden entry", []).append(
                str((Path(dirpath) / name).relative_to(root)) + "/")
            dirnames.remove(name)
    return reasons


def main(args: argparse.Namespace) -> int:
    from kerasbench.cli.common import check_study, export_data_root, table
    from kerasbench.data.index import IMAGE_EXTENSIONS, index_folder
    from kerasbench.errors import ConfigError, DatasetError

    study = check_study(args.study)
    export_data_root(args.data_root)
    settings = _settings(study, args.profile)
    try:
        root = _resolve_folder(args.folder)
    except (FileNotFoundError, DatasetError, ConfigError) as error:
        print(f"check-data: {error}")
        return 1
    if root.is_file():
        hint = (" (fer2013: pass it as csv_path, e.g. kerasbench run fer2013 -p "
                f"csv_path={root})") if study == "fer2013" else ""
        print(f"check-data: {root} is a file, not a dataset folder{hint}")
        return 1
    excluded = {str(name).lower() for name in settings.get("exclude_folders") or ()}
    options = {"check_images": False if args.check_images == "none" else args.check_images,
               "on_corrupt": "skip", "on_cross_split_duplicate": "warn",
               "seed": int(settings.get("seed") or 0)}
    for name in ("validation_fraction", "test_fraction"):
        if isinstance(settings.get(name), (int, float)) and not isinstance(settings[name], bool):
            options[name] = float(settings[name])

    printed = io.StringIO()
    problems, fatal = [], []
    print(f"study {study}, profile {args.profile}: indexing {root}")
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        try:
            index = index_folder(root, **options)
        except (FileNotFoundError, DatasetError, ConfigError) as error:
            index, fatal = None, [str(error)]
    problems += [str(warning.message) for warning in caught]
    notes = [line for line in printed.getvalue().splitlines() if line.strip()]

    if index is not None:
        if excluded:
            relative = index.frame["path"].map(lambda p: Path(p).relative_to(root).parts[:-1])
            keep = ~relative.map(lambda parts: bool(excluded & {x.lower() for x in parts}))
            index = index.with_frame(index.frame[keep.to_numpy()])
        print(f"classes ({index.num_classes}): {', '.join(index.class_names)}")
        counts = index.counts().reset_index()
        print(table(counts.astype(str).to_dict("records")))
        for name in ("classes", "positive_class"):
            wanted = settings.get(name)
            wanted = [wanted] if isinstance(wanted, str) else list(wanted or [])
            folded = {c.casefold() for c in index.class_names}
            absent = [w for w in wanted if str(w).casefold() not in folded]
            if absent:
                fatal.append(f"the profile's {name} {absent} is not among the classes "
                             f"(set it with -p {name}=... when running)")
        print(f"dataset fingerprint: {index.fingerprint()}")
        for name in ("max_per_class", "per_class", "train_per_class_limit", "train_total_limit"):
            if settings.get(name) is not None:
                print(f"note: the study then subsamples this index ({args.profile} profile: "
                      f"{name}={settings[name]})")
        skipped = _skipped_files(root, set(index.frame["path"]), IMAGE_EXTENSIONS, excluded)
    else:
        skipped = {}
    if skipped:
        print("\nleft out:")
        for reason, files in sorted(skipped.items()):
            shown = ", ".join(files[:args.max_listed])
            more = f" ... and {len(files) - args.max_listed} more" if len(files) > args.max_listed \
                else ""
            print(f"  {reason}: {len(files)} ({shown}{more})")
    else:
        print("\nleft out: nothing")
    for note in notes:
        print(f"note: {note}")
    if problems or fatal:
        print("\nproblems:")
        for problem in fatal + problems:
            print("  - " + problem.replace("\n", "\n    "))
    if fatal or index is None or not index.num_classes:
        print("\nthis folder cannot be used as it is")
        return 1
    print("\nready: a run would use the index above" + (" (see the problems)" if problems else ""))
    return 0
