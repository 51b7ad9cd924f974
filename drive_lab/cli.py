"""Command line: ``python -m drive_lab run|sweep|experiment [flags]``; ``--help`` lists every flag.

All argument parsing lives here; the library functions it calls (``run``, ``sweep``,
``experiments.results``) take typed Python values.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path
from typing import Iterable

from .config import REWIND_CHOICES, RunConfig, parse_value
from .data import DATASETS
from .executors import executor_for
from .methods import METHODS
from .models import MODELS
from .paths import default_results_dir
from .scores.drive import COMBINATIONS
from .training import LR_SCHEDULES

REQUESTED_DEVICE = "requested_device"  # the results-table column of the config field ``device``


def results_dir(path: str | None = None) -> Path:
    """``path``, else ``$DRIVE_LAB_RESULTS``, else the checkout's (or the current folder's) ``results/``."""
    return Path(path) if path else default_results_dir()


def _field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(RunConfig)]


def _choices(name: str):
    return {"method": list(METHODS), "model": list(MODELS), "dataset": list(DATASETS), "combine": list(COMBINATIONS),
            "lr_schedule": list(LR_SCHEDULES), "rewind": list(REWIND_CHOICES)}.get(name)


def _choice(choices: list[str]):
    """An argparse type accepting one of ``choices``; otherwise "invalid choice" with the
    closest valid name (``--method drvie``: did you mean 'drive'?) and the full list."""
    import difflib

    def parse(text: str) -> str:
        if text in choices:
            return text
        close = difflib.get_close_matches(text, choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r}{hint}; choose from {', '.join(choices)}")

    parse.__name__ = "choice"
    return parse


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
        if choices:  # checked by _choice, which suggests the closest valid name
            kwargs["type"] = _choice(choices)
            kwargs["metavar"] = "{" + ",".join(choices) + "}"
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


def parse_grid_item(text: str) -> tuple[str, list]:
    """``"field=v1,v2,..."`` -> ``(field, [values])``; ``argparse.ArgumentTypeError`` if malformed."""
    names = _field_names()
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=V1,V2,...; valid fields: {', '.join(names)}")
    if name not in names:
        raise argparse.ArgumentTypeError(f"unknown field {name!r} in {text!r}; valid fields: {', '.join(names)}")
    items = [item for item in values.split(",")]
    if not values.strip() or any(not item.strip() for item in items):
        raise argparse.ArgumentTypeError(f"empty value in {text!r}; write FIELD=V1,V2,...")
    try:
        return name, [parse_value(name, item) for item in items]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of ``python -m drive_lab sweep`` beyond the config flags."""
    parser.add_argument("--grid", nargs="+", action="extend", default=[], type=parse_grid_item,
                        metavar="FIELD=V1,V2", help="values to sweep, e.g. --grid method=drive,snip sparsity=0.5,0.9 "
                        f"seed=0,1,2 (fields: {', '.join(_field_names())})")
    parser.add_argument("--results-dir", default=None, help="results folder (default: $DRIVE_LAB_RESULTS or results/)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--csv", default=None, metavar="PATH", help="also write the results table (without layer_density) to this CSV file")
    add_executor_flags(parser)


def add_executor_flags(parser: argparse.ArgumentParser) -> None:
    """``--jobs N`` (local worker processes) and ``--dask ADDRESS`` (a Dask scheduler)."""
    parser.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                        help="run N runs at a time in local worker processes, each with cores // N torch threads "
                        "(one GPU each on a multi-GPU machine); default 1: one run at a time in this process")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run on the Dask scheduler at ADDRESS, e.g. tcp://127.0.0.1:8786 (workers share the store)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes an integer >= 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"takes an integer >= 1, not {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (the problem and where to read more),
    not the whole usage block."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .experiments import EXPERIMENTS, GROUPS
    from .presets import PRESETS

    parser = _Parser(
        prog="python -m drive_lab",
        description="DRIVE-style pruning experiments. With no flags, `run` prunes a small CNN "
        "on the bundled digits data with DRIVE to 90% sparsity.",
    )
    parser.add_argument("--debug", action="store_true",
                        help=f"show the full traceback of an error (also ${DEBUG_ENV_VAR}=1), for bug reports")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run_parser = sub.add_parser("run", help="run one pruning experiment", description="Run one pruning experiment, print a summary table and write the result JSON.")
    add_config_flags(run_parser)
    run_parser.add_argument("--output", default=None, help="result JSON path (default: <results dir>/runs/<key>.json)")
    run_parser.add_argument("--results-dir", default=None, help="results folder (default: $DRIVE_LAB_RESULTS or results/)")
    run_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    run_parser.set_defaults(command_parser=run_parser)

    sweep_parser = sub.add_parser("sweep", help="run a grid of experiments, reusing stored results",
                                  description="Run every combination of the --grid values (the other flags set the rest), "
                                  "skipping runs already stored; print a table of the results.")
    add_config_flags(sweep_parser)
    add_sweep_flags(sweep_parser)
    sweep_parser.set_defaults(command_parser=sweep_parser)

    experiment_parser = sub.add_parser(
        "experiment", help="run one of the course's named sweeps and write its table to results/<preset>/",
        description="Run a named sweep of the course (sized by a preset) through the results store and write "
        "results/<preset>/<name>.csv with a JSON file recording command, versions and hardware. Experiments: "
        + "; ".join(f"{e.name}: {e.description}" for e in EXPERIMENTS.values()))
    experiment_parser.add_argument("name", choices=[*EXPERIMENTS, *GROUPS, "all"],
                                   help="experiment name; study = every question of the reproduction study; all")
    experiment_parser.add_argument("--preset", choices=list(PRESETS), default=None,
                                   help="sizes (default: $DRIVE_LAB_PRESET, else gpu with CUDA, else cpu)")
    experiment_parser.add_argument("--recompute", action="store_true",
                                   help="recompute the table even if its CSV exists (stored runs are still reused)")
    experiment_parser.add_argument("--extend", action="store_true",
                                   help="keep the committed table's rows and run only the planned runs it lacks "
                                        "(e.g. a network added to the plan)")
    experiment_parser.add_argument("--spot-check", type=_positive_int, default=None, metavar="N",
                                   help="recompute N of the committed table's runs, drawn at random, in a fresh "
                                        "temporary store and compare them with the table (nothing is written)")
    experiment_parser.add_argument("--results-dir", default=None, help="run store (default: $DRIVE_LAB_RESULTS or results/)")
    experiment_parser.add_argument("--tables-dir", default=None, help="where <preset>/<name>.csv go (default: results/)")
    experiment_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_executor_flags(experiment_parser)
    experiment_parser.set_defaults(command_parser=experiment_parser)
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return RunConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig)})


def format_table(frame, fields: Iterable[str] = ()) -> str:
    """A readable table: method, sparsity, seed, other ``fields``, final accuracy, pruning seconds."""
    fields = [REQUESTED_DEVICE if name == "device" else name for name in fields]
    columns = list(dict.fromkeys(["method", "sparsity", "seed", *fields]))
    table = frame[columns].copy()
    table["final acc %"] = (100 * frame["final_test_accuracy"]).map(lambda v: f"{v:.2f}")
    table["pruning s"] = frame["seconds_pruning"].map(lambda v: f"{v:.2f}")
    return table.to_string(index=False)


def run_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``python -m drive_lab run``: one run, its summary, its JSON record."""
    from .pipeline import check_run, run
    from .store import check_writable_file

    try:
        config = config_from_args(args)
    except (TypeError, ValueError) as error:
        parser.error(flag_words(str(error)))
    path = Path(args.output) if args.output else results_dir(args.results_dir) / "runs" / f"{config.key()}.json"
    check_writable_file(path, "--output" if args.output else "--results-dir")  # before any compute
    check_run(config)
    result = run(config)
    result.save(path)
    print(result.summary())
    print(f"\nresult written to {path}")
    return 0


def sweep_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``python -m drive_lab sweep``: run the grid, print the table, optionally write a CSV."""
    from .store import ResultStore, check_writable_file
    from .sweep import expand_grid, sweep

    grid: dict[str, list] = {}
    for name, values in args.grid:
        if name in grid:
            parser.error(f"--grid gives {name} twice; list all its values once: {name}=V1,V2,...")
        grid[name] = values
    try:
        base = config_from_args(args)
        expand_grid(base, grid)
    except (TypeError, ValueError) as error:
        parser.error(str(error))  # names config fields: the --grid FIELD names
    if args.csv:
        check_writable_file(Path(args.csv), "--csv")
    with executor_for(args.jobs, args.dask) as executor:
        frame = sweep(base, grid, results_dir=args.results_dir, executor=executor)
    print(format_table(frame, grid))
    store = ResultStore(args.results_dir)
    print(f"\n{len(frame)} run(s): {frame.attrs['computed']} computed, {frame.attrs['cached']} from the store")
    print(f"results in {store.runs_dir}")
    if args.csv:
        path = Path(args.csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.drop(columns="layer_density").to_csv(path, index=False)
        print(f"table written to {path}")
    return 0


def experiment_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``python -m drive_lab experiment NAME|all``: the course's named sweeps and their tables."""
    from . import experiments
    from .presets import get_preset

    names = (list(experiments.EXPERIMENTS) if args.name == "all"
             else list(experiments.GROUPS.get(args.name, [args.name])))
    if len(names) > 1:  # a group runs what the preset plans; a single name with no runs is an error below
        names = [name for name in names if experiments.get_experiment(name).configs(get_preset(args.preset))]
    if args.spot_check is not None:
        if args.recompute or args.extend:
            parser.error("--spot-check compares with the committed table: it excludes --recompute and --extend")
        return _spot_check(names, args)
    with executor_for(args.jobs, args.dask) as executor:
        for name in names:
            frame = experiments.results(name, args.preset, recompute=args.recompute, tables_dir=args.tables_dir,
                                        results_dir=args.results_dir, executor=executor, extend=args.extend)
            print(f"{name}: {len(frame)} runs; {frame.attrs['source']}")
    return 0


def _spot_check(names: list[str], args: argparse.Namespace) -> int:
    """``experiment NAME --spot-check N``: recomputed runs beside the committed table's."""
    from . import experiments

    shown = ("method", "model", "sparsity", "seed", "final_test_accuracy_table", "final_test_accuracy_now", "identical")
    differing = 0
    with executor_for(args.jobs, args.dask) as executor:
        for name in names:
            frame = experiments.spot_check(name, args.preset, rows=args.spot_check, tables_dir=args.tables_dir,
                                           executor=executor)
            differing += int((~frame["identical"]).sum())
            print(f"{name}: {int(frame['identical'].sum())} of {len(frame)} recomputed runs identical to the table "
                  f"({frame.attrs['hardware']})")
            table = frame[list(shown)].copy()
            for column in ("final_test_accuracy_table", "final_test_accuracy_now"):
                table[column] = (100 * table[column]).map(lambda v: f"{v:.2f} %")
            print(table.rename(columns={"final_test_accuracy_table": "table acc", "final_test_accuracy_now": "now acc"})
                  .to_string(index=False))
    if differing:
        print(f"{differing} run(s) differ. On another CPU small differences are expected (docs/method.md, "
              "\"Run identity\"); on the table's own machine and revision they are not.")
    return 0


COMMANDS = {"run": run_command, "sweep": sweep_command, "experiment": experiment_command}
DEBUG_ENV_VAR = "DRIVE_LAB_DEBUG"
# Exit codes: 0 done; 1 training diverged; 2 a usage or input problem; 130 interrupted (Ctrl-C).
EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

# Python argument names in library messages, and the flags a command-line user types instead.
_ARGUMENT_FLAGS = {"root": "--data-root", "download": "--download", "results_dir": "--results-dir",
                   "tables_dir": "--tables-dir"}


def flag_words(message: str) -> str:
    """``message`` with config field and argument names written as the CLI's flags
    (``sparsity must be`` -> ``--sparsity must be``; ``root=`` -> ``--data-root=``)."""
    import re

    names = {f.name: "--" + f.name.replace("_", "-") for f in dataclasses.fields(RunConfig)}
    names.update(_ARGUMENT_FLAGS)
    pattern = re.compile(r"(?<![\w\-.'\"/])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                         + r")(?=\b(=| must| takes| has| is|\)|,|;|$))")
    message = message.replace("download=True", "--download")  # a flag, not a value
    return pattern.sub(lambda match: names[match.group(1)], message)


def _stored_runs_line(error: BaseException) -> str:
    notes = [note for note in getattr(error, "__notes__", []) if "stored" in note]
    return notes[-1] if notes else "nothing was stored for the interrupted run"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``EXIT_*``).

    A user's mistake, missing data, a diverged run or Ctrl-C print one line on stderr,
    never a traceback; ``--debug`` (or ``DRIVE_LAB_DEBUG=1``) shows the traceback.
    """
    import os

    from .training import TrainingDiverged

    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}
    if args.quiet:
        from .progress import set_progress

        set_progress(False)
    command_parser = args.command_parser  # errors name the subcommand's usage line
    try:
        return COMMANDS[args.command](command_parser, args)
    except KeyboardInterrupt as error:
        if debug:
            raise
        print(f"interrupted: {_stored_runs_line(error)}; the same command resumes", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingDiverged as error:
        if debug:
            raise
        print(f"{command_parser.prog}: diverged: {flag_words(str(error))}", file=sys.stderr)
        return EXIT_DIVERGED
    except (ValueError, TypeError, OSError) as error:  # user-caused: bad values, missing data, file system
        if debug:
            raise
        message = flag_words(" ".join(str(error).split()) or type(error).__name__)  # one line, remedy kept
        print(f"{command_parser.prog}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
