"""``kerasbench report [RESULTS]``: one self-contained HTML page per profile."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "report", help="one self-contained HTML page per profile from the run records",
        description="Rebuild every study's tables and figures from its run records (the "
                    "study's own tables / figures / compare_with_paper) and write one HTML "
                    "page per profile, <RESULTS>/<profile>/report.html, holding each "
                    "study's paper-vs-this-run table, its figures (embedded PNGs) and its "
                    "other tables. A study that cannot be rebuilt gets a section saying "
                    "why; the page is written all the same. Exit status 1 when no records "
                    "are found (or, with --strict, when a study failed).")
    parser.add_argument("results", nargs="?", default=None, metavar="RESULTS",
                        help="results root (default ./results) or one profile's folder")
    parser.add_argument("--output-dir", default=None, metavar="O",
                        help="write <O>/<profile>/report.html instead")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any study's section could not be built")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from kerasbench.html_report import find_profiles, write_reports

    results = Path(args.results).expanduser() if args.results else Path.cwd() / "results"
    if not find_profiles(results):
        print(f"kerasbench report: error: no run records under {results.resolve()} (expected "
              "<profile>/<study>/records/*.json; run `kerasbench run` first)", file=sys.stderr)
        return 1
    written = write_reports(results, args.output_dir)
    failed = []
    for profile, (page, sections) in written.items():
        failed += [f"{profile}/{s.study}" for s in sections if s.status == "failed"]
        print(f"{profile}: {page} ({len(sections)} studies: "
              + ", ".join(f"{s.study} {s.status}" for s in sections) + ")")
    if failed:
        print(f"could not build: {', '.join(failed)} (the page says why)", file=sys.stderr)
        return 1 if args.strict else 0
    return 0
