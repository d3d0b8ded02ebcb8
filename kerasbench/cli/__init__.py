"""The ``kerasbench`` command: list, run, check-data, weights, report, kernel install.

Every sub-command is a module here with ``add_parser(subparsers)`` and ``main(args)``;
heavy imports (TensorFlow, papermill, the study packages) happen inside ``main`` so that
``kerasbench --help`` and ``kerasbench list`` answer in about a second.

Environment (every profile): ``KERASBENCH_DATA_ROOT`` is the folder datasets are looked
up in by name (default ``/kaggle/input`` when it exists); ``KERASBENCH_WEIGHTS_DIR`` holds
weight files (Keras's ``*_notop.h5`` and local files such as SqueezeNet's);
``KERASBENCH_NOTEBOOKS`` points at another folder of study notebooks and profiles.
"""

from __future__ import annotations

import argparse
import os
import sys

from kerasbench import __version__
from kerasbench.errors import ConfigError

EPILOG = """\
environment:
  KERASBENCH_DATA_ROOT    folder that holds datasets looked up by name (default
                          /kaggle/input when it exists); the study's own dataset name
                          (see `kerasbench list`) is looked for inside it
  KERASBENCH_WEIGHTS_DIR  folder of weight files (e.g. resnet50 *_notop.h5 from Keras,
                          squeezenet_v1.1_imagenet_notop.h5); see `kerasbench weights`
  KERASBENCH_NOTEBOOKS    another folder of study notebooks (with profiles/<study>/*.yaml)

examples:
  kerasbench list
  kerasbench run covid_xray --profile test
  kerasbench run --all --profile paper --data-root /kaggle/input
  kerasbench run clothing -p grid_epochs=1 -p "image_sizes=[32, 64]"
  kerasbench check-data covid_xray /data/COVID-19_Radiography_Dataset
  kerasbench report results/
"""


class CommandError(Exception):
    """A user error: printed as ``kerasbench: error: ...`` with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    from kerasbench.cli import check_data, kernel, listing, report, run, weights

    parser = argparse.ArgumentParser(
        prog="kerasbench",
        description="Reproducible Keras / TensorFlow image-classification studies: run a "
                    "study's notebook under a profile, check a dataset folder, find weight "
                    "files, and build an HTML report from the run records.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kerasbench {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (listing, run, check_data, weights, report, kernel):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    # TensorFlow's C++ start-up lines, in this process and the kernels it starts.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (CommandError, ConfigError) as error:
        print(f"kerasbench {args.command}: error: {error}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("kerasbench: interrupted", file=sys.stderr)
        return 130


def entry_point() -> None:  # the console script
    sys.exit(main())
