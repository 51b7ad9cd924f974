"""Command line: ``python -m drive_lab run|sweep [flags]``; ``--help`` lists every flag."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing
from pathlib import Path

from .config import RunConfig

def results_dir(path: str | None = None) -> Path:
    """``path``, else ``$DRIVE_LAB_RESULTS``, else the checkout's (or the current folder's) ``results/``."""
    from .store import default_results_dir

    return Path(path) if path else default_results_dir()


def _choices(name: str):
    from .data import DATASETS
    from .methods import METHODS
    from .models import MODELS
    from .scores.drive import COMBINATIONS
    from .training import LR_SCHEDULES
    from .config import REWIND_CHOICES

    return {"method": list(METHODS), "model": list(MODELS), "dataset": list(DATASETS), "combine": list(COMBINATIONS),
            "lr_schedule": list(LR_SCHEDULES), "rewind": list(REWIND_CHOICES)}.get(name)


def _optional_int(text: str):
    return None if text.lower() in {"none", "default"} else int(text)


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field, with its help text, type, choices and default."""
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        text = f.metadata.get("help", "")
        kwargs: dict = {"dest": f.name, "default": f.default}
        choices = _choices(f.name)
        if choices:
            kwargs["choices"] = choices
        if hint is bool or hint == (bool | None):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif hint == (int | None):
            kwargs["type"] = _optional_int
            kwargs["metavar"] = "N"
        elif hint in (int, float):
            kwargs["type"] = hint
        elif hint == (str | None):
            kwargs["type"] = str
        kwargs["help"] = f"{text} (default: {f.default})"
        parser.add_argument(flag, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m drive_lab",
        description="DRIVE-style pruning experiments. With no flags, `run` prunes a small CNN "
        "on the bundled digits data with DRIVE to 90% sparsity.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run one pruning experiment", description="Run one pruning experiment, print a summary table and write the result JSON.")
    add_config_flags(run_parser)
    run_parser.add_argument("--output", default=None, help="result JSON path (default: <results dir>/runs/<key>.json)")
    run_parser.add_argument("--results-dir", default=None, help="results folder (default: $DRIVE_LAB_RESULTS or results/)")
    run_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    from .sweep import add_sweep_flags

    sweep_parser = sub.add_parser("sweep", help="run a grid of experiments, reusing stored results",
                                  description="Run every combination of the --grid values (the other flags set the rest), "
                                  "skipping runs already stored; print a table of the results.")
    add_config_flags(sweep_parser)
    add_sweep_flags(sweep_parser)

    from .experiments import EXPERIMENTS
    from .presets import PRESETS

    experiment_parser = sub.add_parser(
        "experiment", help="run one of the course's named sweeps and write its table to results/<preset>/",
        description="Run a named sweep of the course (sized by a preset) through the results store and write "
        "results/<preset>/<name>.csv with a JSON file recording command, versions and hardware. Experiments: "
        + "; ".join(f"{e.name}: {e.description}" for e in EXPERIMENTS.values()))
    experiment_parser.add_argument("name", choices=[*EXPERIMENTS, "all"], help="experiment name, or all")
    experiment_parser.add_argument("--preset", choices=list(PRESETS), default=None,
                                   help="sizes (default: $DRIVE_LAB_PRESET, else gpu with CUDA, else cpu)")
    experiment_parser.add_argument("--recompute", action="store_true",
                                   help="recompute the table even if its CSV exists (stored runs are still reused)")
    experiment_parser.add_argument("--results-dir", default=None, help="run store (default: $DRIVE_LAB_RESULTS or results/)")
    experiment_parser.add_argument("--tables-dir", default=None, help="where <preset>/<name>.csv go (default: results/)")
    experiment_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return RunConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig)})


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .progress import set_progress

    if args.command == "run":
        try:
            config = config_from_args(args)
        except ValueError as error:
            parser.error(str(error))
        if args.quiet:
            set_progress(False)
        from .pipeline import run

        try:
            result = run(config)
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        path = Path(args.output) if args.output else results_dir(args.results_dir) / "runs" / f"{result.key}.json"
        result.save(path)
        print(result.summary())
        print(f"\nresult written to {path}")
    elif args.command == "sweep":
        from .sweep import sweep_command

        return sweep_command(parser, args)
    elif args.command == "experiment":
        from . import experiments

        if args.quiet:
            set_progress(False)
        names = list(experiments.EXPERIMENTS) if args.name == "all" else [args.name]
        for name in names:
            frame = experiments.results(name, args.preset, recompute=args.recompute,
                                        tables_dir=args.tables_dir, results_dir=args.results_dir)
            print(f"{name}: {len(frame)} runs; {frame.attrs['source']}")
    return 0
