"""Write docs/reproduction.md and the README's headline claims from the committed study tables.

    python scripts/reproduction_report.py [--preset cpu]

Reads results/<preset>/study_*.csv (produced by `python -m drive_lab experiment study
--preset <preset>`); runs nothing. Questions without a committed table are listed as pending.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from drive_lab.reproduction import write_report

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu", help="whose tables (default: cpu)")
    args = parser.parse_args()
    print(f"written: {write_report(args.preset, ROOT)}")
