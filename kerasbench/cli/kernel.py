"""``kerasbench kernel install``: a Jupyter kernel that runs this Python environment."""

from __future__ import annotations

import argparse
import sys

from kerasbench.notebook_runner import KERNEL_NAME


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "kernel", help="install the 'kerasbench' Jupyter kernel (this Python environment)",
        description="Jupyter kernels for the study notebooks. The notebooks ask for a "
                    f"kernel named {KERNEL_NAME!r}; `kernel install` registers this "
                    f"environment's Python ({sys.executable}) under that name, so "
                    "JupyterLab or Notebook opened anywhere runs the notebooks with "
                    "kerasbench and TensorFlow from here. (`kerasbench run` does not need "
                    "it: it always runs this Python.)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install", help="register the kernel",
        description="Register this Python as a Jupyter kernel (ipykernel's kernelspec "
                    "install). Default: for the current user (~/.local/share/jupyter).")
    where = install.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", default=True,
                       help="for the current user (default)")
    where.add_argument("--sys-prefix", action="store_true",
                       help=f"inside this environment ({sys.prefix}); what `make install` does")
    where.add_argument("--prefix", default=None, help="under another prefix")
    install.add_argument("--name", default=KERNEL_NAME, help=f"kernel name (default {KERNEL_NAME})")
    install.add_argument("--display-name", default="Python (kerasbench)",
                         help="name shown in Jupyter (default 'Python (kerasbench)')")
    install.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from ipykernel.kernelspec import install

    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install(user=prefix is None, prefix=prefix, kernel_name=args.name,
                   display_name=args.display_name)
    print(f"installed kernel {args.name!r} ({args.display_name}) for {sys.executable} "
          f"in {path}")
    return 0
