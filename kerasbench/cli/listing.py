"""``kerasbench list``: studies, their profiles, the data each needs and whether it is found."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "list", help="studies, profiles, the data each needs and whether it is found",
        description="List the studies (name, title, notebook), the profiles of each, what "
                    "data each profile reads and whether it is found: a profile with no "
                    "data_dir runs on generated demo data; a dataset name is looked up "
                    "under --data-root / $KERASBENCH_DATA_ROOT (default /kaggle/input), "
                    "$DATA_DIR, $KERASBENCH_DATA and /kaggle/input. Exits 1 when no "
                    "study notebook is found.")
    parser.add_argument("--profile", action="append",
                        help="only this profile (repeatable; default: every profile)")
    parser.add_argument("--data-root", default=None,
                        help="folder holding datasets by name (default: $KERASBENCH_DATA_ROOT, "
                             "else /kaggle/input when it exists)")
    parser.set_defaults(handler=main)


def data_status(value, profile: str) -> tuple[str, str]:
    """(what the profile reads, found or not) without importing TensorFlow."""
    from kerasbench.errors import ConfigError, DatasetError

    if value is None or (isinstance(value, str) and value.lower() == "demo"):
        if profile == "paper":
            return "(the study's dataset, looked up by name)", "looked up when run"
        return "demo data", "generated on first use"
    text = str(value)
    if text.lower() == "auto":
        return "auto", "real data if found, else demo data"
    from kerasbench.data.sources import resolve_dataset

    try:
        source = resolve_dataset(text)
    except (FileNotFoundError, DatasetError, ConfigError) as error:
        first = str(error).splitlines()[0]
        return text, f"NOT FOUND ({first})" if "not found" not in first else "NOT FOUND"
    return text, f"found: {source.path}"


def main(args: argparse.Namespace) -> int:
    from kerasbench.cli.common import available_studies, export_data_root, table
    from kerasbench.notebook_runner import (
        list_profiles,
        load_profile,
        notebook_defaults,
        notebook_path,
        notebooks_dir,
    )
    from kerasbench.studies import STUDIES
    from kerasbench.studies.base import StudyInfo

    studies = available_studies()
    root = export_data_root(args.data_root)
    print(f"notebooks: {notebooks_dir()}")
    print(f"data root: {root or '(none: set KERASBENCH_DATA_ROOT or --data-root)'}"
          + (f"; DATA_DIR={os.environ['DATA_DIR']}" if os.environ.get("DATA_DIR") else ""))
    print(f"results go to: {Path.cwd() / 'results'}/<profile>/<study>/ (or --output-dir)\n")
    own = StudyInfo("", "(own notebook, not a registered study)", "")
    print(table([{"study": name, "title": STUDIES.get(name, own).title,
                  "profiles": " ".join(list_profiles(name)),
                  "real data (paper profile)": STUDIES.get(name, own).data}
                 for name in studies]))
    rows = []
    for name in studies:
        defaults = notebook_defaults(notebook_path(name))
        for profile in list_profiles(name):
            if args.profile and profile not in args.profile:
                continue
            values = load_profile(name, profile)
            reads, found = data_status(values.get("data_dir", defaults.get("data_dir")), profile)
            rows.append({"study": name, "profile": profile, "data": reads, "status": found})
    print()
    print(table(rows))
    return 0
