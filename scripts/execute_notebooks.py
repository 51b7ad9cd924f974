#!/usr/bin/env python
"""Execute the course notebooks in reading order and save them with their outputs.

    python scripts/execute_notebooks.py                 # every notebook, cpu preset
    python scripts/execute_notebooks.py --preset smoke 02_baselines_and_layer_collapse.ipynb

This is how the committed outputs are produced (with the ``cpu`` preset): re-run it to
refresh them. Sweeps a notebook needs are read from ``results/<preset>/*.csv`` when those
exist and computed (then written there) otherwise; see ``python -m drive_lab experiment``.
The notebooks run against an empty run store in a temporary folder (``$DRIVE_LAB_RESULTS``;
the same path each time, emptied before and after), so what they show (the results browser
lists the store's runs) depends on the committed tables alone, not on the runs this machine
happens to hold; ``--store shared`` uses the usual store instead.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebook file names (default: all, in order)")
    parser.add_argument("--preset", default="cpu", choices=["smoke", "cpu", "gpu"], help="DRIVE_LAB_PRESET to run with")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds allowed per cell")
    parser.add_argument("--store", choices=["fresh", "shared"], default="fresh",
                        help="run store: fresh (an empty temporary one, default) or shared (results/runs)")
    args = parser.parse_args(argv)
    if args.store == "fresh":
        # A fixed name, emptied before and after, so the path a notebook prints is the same each time.
        store = Path(tempfile.gettempdir()) / "drive_lab_notebook_store"
        shutil.rmtree(store, ignore_errors=True)
        os.environ["DRIVE_LAB_RESULTS"] = str(store)
        try:
            return execute(args)
        finally:
            shutil.rmtree(store, ignore_errors=True)
    return execute(args)


def execute(args) -> int:
    os.environ["DRIVE_LAB_PRESET"] = args.preset
    os.environ["DRIVE_LAB_PROGRESS"] = "0"  # no progress widgets in committed outputs
    paths = [NOTEBOOKS / name for name in args.notebooks] if args.notebooks else sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=args.timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        nbformat.write(notebook, path)
        print(f"{path.name}: executed with preset {args.preset} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
