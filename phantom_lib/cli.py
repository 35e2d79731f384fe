"""The ``phantom`` command: build the book, run one notebook, and the long jobs.

Every argument of every subcommand is declared here; each subcommand's handler calls one library
function and prints where its output went:

* ``phantom book``: execute every chapter and build the HTML (:func:`phantom_lib.book.build_book`);
* ``phantom run NOTEBOOK -p NAME VALUE``: one chapter, papermill-style (:func:`phantom_lib.book.run_notebook`);
* ``phantom data standin|check|bench``: generate the stand-in, validate a data source, time loading;
* ``phantom bench``: the simulator benchmark (:func:`phantom_lib.perf.run_bench`);
* ``phantom sweep --design NAME|FILE``: a declared study on Ray (:func:`phantom_lib.study.sweep`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from phantom_lib.book import build as book
from phantom_lib.book import profiles


def _book(args: argparse.Namespace) -> int:
    book.build_book(args.profile, args.only)
    return 0


def _output_file(path: str, example: str) -> Path:
    """The file ``-o PATH`` names, checked before any long work: not a folder, and its folder
    exists (created if needed, and said so) and takes a new file. Raises ``ValueError`` saying what to change."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"-o {path} is a folder: give a file name, e.g. -o {target / example}")
    blocking = next((p for p in target.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise ValueError(f"-o {path}: {blocking} is a file, not a folder: choose another path")
    created = not target.parent.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as err:
        raise ValueError(f"-o {path}: cannot write in {target.parent} ({err.strerror or err}): "
                         "choose a folder you can write to") from None
    if created:
        print(f"[phantom] created folder {target.parent} for -o {path}")
    return target


def _run(args: argparse.Namespace) -> int:
    from phantom_lib.book.key_results import fill_key_results
    from phantom_lib.book.parameters import parse_parameters

    source = book.find_notebook(args.notebook)
    output = _output_file(args.output or f"{source.stem}.executed.ipynb", f"{source.stem}.ipynb")
    results_json = _output_file(args.results_json, "results.json") if args.results_json else None
    book.run_notebook(source, output, args.profile, parse_parameters(source, args.parameters))
    print(f"[phantom] executed notebook written to {output}")
    found = fill_key_results(output)
    if found:
        print("[phantom] key results (What we found):")
        print("\n".join(f"  {name} = {text}" for name, text in found.items()))
    if results_json is not None:
        results_json.write_text(json.dumps(found, indent=1) + "\n")
        print(f"[phantom] key results written to {results_json}")
    return 0


def _data_standin(args: argparse.Namespace) -> int:
    from phantom_lib.data.sources import load
    from phantom_lib.standin.rows import StandinConfig, write

    config = StandinConfig(seed=args.seed, scale=args.scale, admin_views=args.admin_views)
    path = write(_output_file(args.output, "whoclicked_standin.csv.gz"), config, overwrite=args.force)
    loaded = load(path)
    print(f"[phantom] wrote {path}: {loaded.provenance.rows} rows, sha256 {loaded.provenance.sha256} "
          f"({loaded.provenance.label})")
    return 0


def _data_check(args: argparse.Namespace) -> int:
    from phantom_lib.data.sources import load
    from phantom_lib.data.validation import compare_to_card

    loaded = load(args.source, allow_duplicates=args.allow_duplicates)
    print(loaded.provenance.banner().lstrip("> "))
    print(loaded.report.to_frame().to_string(index=False))
    for note in loaded.report.notes:
        print(f"note: {note}")
    comparison = compare_to_card(loaded.frame)
    print(comparison.to_string(index=False))
    print(f"{int(comparison['match'].sum())} of {len(comparison)} card quantities match")
    return 0


def _data_bench(args: argparse.Namespace) -> int:
    from phantom_lib.perf.timing import load_benchmark

    table = load_benchmark(tuple(args.scales), args.repeats, args.seed)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from phantom_lib.perf.bench import BenchConfig, format_report, run_bench

    output = _output_file(args.output, "bench.json")
    config = BenchConfig.quick() if args.quick else BenchConfig()
    result = run_bench(config)
    output.write_text(json.dumps(result, indent=1, default=float))
    print(format_report(result))
    print(f"[bench] JSON written to {output}")
    return 0


def _sweep_out(args: argparse.Namespace) -> Path:
    return Path(args.out or f"results/sweep-{Path(args.design).stem}")


def _sweep(args: argparse.Namespace) -> int:
    from phantom_lib.study.run.options import SweepOptions
    from phantom_lib.study.run.runner import sweep

    if args.old_profile is not None:
        raise ValueError(f"--profile is not a sweep option any more: name the study with --design {args.old_profile} "
                         "(a built-in design or a .toml design file)")
    out = _sweep_out(args)
    cache = None if args.compile_cache == "" else Path(args.compile_cache).expanduser()
    options = SweepOptions(trainable=args.trainable, resume=args.resume, executor=args.executor, address=args.address,
                           num_cpus=args.num_cpus, engine=args.engine, batch_size=args.batch_size, compile_cache=cache)
    results = sweep(args.design, out, options)
    failed = int((results["status"] != "ok").sum())
    print(f"[phantom] {len(results)} trials recorded in {out} ({failed} failed)")
    return 0


def _add_data(sub: argparse._SubParsersAction) -> None:
    from phantom_lib.data.sources import STANDIN_PATH

    parser = sub.add_parser("data", help="generate the synthetic stand-in, validate a data source, time loading")
    data_sub = parser.add_subparsers(dest="data_command", required=True)
    p_standin = data_sub.add_parser("standin", help="generate the synthetic stand-in (seeded, reproducible)")
    p_standin.add_argument("--seed", type=int, default=0)
    p_standin.add_argument("--scale", type=int, default=1, help="multiply every published count (default 1)")
    p_standin.add_argument("--admin-views", type=int, default=4, help="operator /admin/ page views (default 4)")
    p_standin.add_argument("-o", "--output", required=True,
                           help=f"output path; .gz compresses (the shipped stand-in is {STANDIN_PATH})")
    p_standin.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p_standin.set_defaults(func=_data_standin)
    p_check = data_sub.add_parser("check", help="validate a data source and compare it with the data card")
    p_check.add_argument("source", nargs="?", default="standin", help="path, 'standin' or 'hub' (default: standin)")
    p_check.add_argument("--allow-duplicates", action="store_true",
                         help="accept rows that repeat an earlier row in every column (an error by default)")
    p_check.set_defaults(func=_data_check)
    p_bench = data_sub.add_parser("bench", help="time load + validation on generated files of growing size")
    p_bench.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    p_bench.add_argument("--repeats", type=int, default=3)
    p_bench.add_argument("--seed", type=int, default=0)
    p_bench.set_defaults(func=_data_bench)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="time the simulator's market backends side by side")
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute): fewer repeats and points")
    parser.add_argument("-o", "--output", default="bench.json", help="where to write the JSON result (default: "
                                                                     "bench.json; missing folders are created)")
    parser.set_defaults(func=_bench)


def _crosscheck(args: argparse.Namespace) -> int:
    from phantom_lib.study.run.crosscheck import CROSSCHECK_CELLS, write_crosscheck

    settings = {
        "timesteps": args.timesteps,
        "eval_episodes": args.eval_episodes,
        "max_steps": 100,
        "curve_points": 8,
        "n_candidates": 5,
        "action_levels": 9,
    }
    trials = write_crosscheck(args.out, CROSSCHECK_CELLS, tuple(args.seeds), settings)
    print(f"[phantom] cross-check: {len(trials)} rows written to {args.out}")
    return 0


def _add_crosscheck(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("crosscheck", help="train PPO with both engines (sb3, jax) on the same cells and seeds")
    parser.add_argument("--out", required=True, help="folder for trials.parquet and provenance.json")
    parser.add_argument("--timesteps", type=int, default=32_768, help="training steps per learner (default 32768)")
    parser.add_argument("--eval-episodes", type=int, default=10, help="evaluation episodes per share (default 10)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.set_defaults(func=_crosscheck)


SWEEP_WRITES = (
    "writes OUT/results.parquet (one row per trial: its config, status, m_* metrics; read it with "
    "phantom_lib.study.load_results(OUT) or pandas.read_parquet), provenance.json (commit, dirty "
    "state, design, pre-registration, data, versions), manifest.json (sha256 of each file), runs.jsonl "
    "and trials/ (one file per finished trial, for --resume)"
)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    from phantom_lib.study.design.files import BUILTIN
    from phantom_lib.study.run.runner import (
        DEFAULT_BATCH_SIZE,
        DEFAULT_TRAINABLE,
        ENGINES,
    )

    engines = "; ".join(f"{e}: {', '.join(n for n, p in BUILTIN.items() if (p.engine or 'sb3') == e)}" for e in ENGINES)
    parser = sub.add_parser(
        "sweep",
        help="run a declared study on Ray (resumable)",
        description=f"Run a study design on Ray (resumable); {SWEEP_WRITES}.",
    )
    parser.add_argument(
        "--design",
        default="smoke",
        metavar="NAME|FILE",
        help=f"a built-in design ({', '.join(BUILTIN)}) or a .toml design file (default smoke). "
        "A design of kind 'study' must name a pre-registration file committed and unchanged "
        "from HEAD; kind 'smoke' (a check that it runs, used by the tests) needs none",
    )
    parser.add_argument("--profile", dest="old_profile", help=argparse.SUPPRESS)
    parser.add_argument("--out", help="results folder (default results/sweep-NAME); locked while a sweep writes it")
    parser.add_argument("--resume", action="store_true", help="run only the trials without a successful result")
    parser.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local cluster)")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the local cluster (default: all)")
    parser.add_argument(
        "--executor",
        choices=["ray", "local"],
        default="ray",
        help="'local' runs trials one by one in this process (debugging)",
    )
    parser.add_argument("--trainable", default=DEFAULT_TRAINABLE, help="module:function called as f(config, seed)")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        help="sb3: one trial per task (stable-baselines3); jax: one compiled batch of a slice per task "
        "(reference policies run the trainable). Default: the design's engine, sb3 when it names "
        f"none ({engines})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"jax engine: most trials per compiled batch (default {DEFAULT_BATCH_SIZE}); each slice runs "
        "at its largest divisor up to this (no padding), recorded per batch",
    )
    parser.add_argument(
        "--compile-cache",
        default="~/.cache/phantom_lib/jax",
        help="jax engine: folder of compiled programs shared by workers and runs ('' to disable; "
        "default ~/.cache/phantom_lib/jax)",
    )
    parser.set_defaults(func=_sweep)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``phantom`` command."""
    parser = argparse.ArgumentParser(prog="phantom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_book = sub.add_parser("book", help="execute every notebook and build the HTML book")
    p_book.add_argument("--profile", choices=profiles.names(), default=profiles.DEFAULT_PROFILE)
    p_book.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NN",
        help="re-execute only this notebook (repeatable); other chapters reuse their last execution",
    )
    p_book.set_defaults(func=_book)

    p_run = sub.add_parser("run", help="execute one notebook with papermill-style parameters")
    p_run.add_argument("notebook", help="path, stem or number of a notebook, e.g. notebooks/03_coi.md or 03")
    p_run.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a parameter (VALUE read as a Python literal, else as a string)",
    )
    p_run.add_argument("--profile", choices=profiles.names(), default=profiles.DEFAULT_PROFILE)
    p_run.add_argument("-o", "--output", help="executed notebook path (default: NN_name.executed.ipynb)")
    p_run.add_argument(
        "--results-json",
        metavar="FILE",
        help="also write the key results of the chapter's 'What we found' section as JSON",
    )
    p_run.set_defaults(func=_run)

    _add_data(sub)
    _add_bench(sub)
    _add_sweep(sub)
    _add_crosscheck(sub)
    return parser


def _interrupted(args: argparse.Namespace) -> str:
    """What Ctrl-C left behind, and how to go on."""
    if args.command == "sweep":
        from phantom_lib.study.design.store import ResultsStore

        out = _sweep_out(args)
        return f"interrupted: {len(ResultsStore(out).finished())} trials kept in {out}; run again with --resume"
    if args.command == "run":
        return "interrupted: run the same command again to execute the notebook from the start"
    return "interrupted"


def _message(err: BaseException) -> str:
    """The library's own message, or for a system error the file, the reason and what to check."""
    if isinstance(err, OSError) and err.errno is not None and err.filename:
        return f"{err.filename}: {err.strerror}: check the path and its permissions"
    return str(err)


def _kill_chapter_kernels() -> None:
    """End every chapter kernel this process started (they run in sessions of their own, so a Ctrl-C
    in the terminal reaches this process only)."""
    kernels = sys.modules.get("phantom_lib.book.kernel")  # loaded only once a chapter's kernel started
    if kernels is not None:
        kernels.kill_live_kernels()


def _on_interrupt(signum: int, frame: object) -> None:
    """Ctrl-C: kill the chapter kernels first, then interrupt as Python would. Killed before the
    interrupt unwinds, nbclient's clean-up finds them dead instead of waiting on a busy cell."""
    _kill_chapter_kernels()
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``phantom`` console script: exit 0 on success; 1 with one
    ``phantom COMMAND: error: ...`` line on stderr for any expected failure, and with one
    ``phantom COMMAND: interrupted: ...`` line after Ctrl-C (no traceback); 2 for bad arguments."""
    args = build_parser().parse_args(argv)
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:  # not when a caller handles Ctrl-C itself
        signal.signal(signal.SIGINT, _on_interrupt)
    try:
        return _dispatch(args)
    finally:
        signal.signal(signal.SIGINT, previous)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command; report an expected failure or an interrupt in one line (see :func:`main`)."""
    command = " ".join(filter(None, (args.command, getattr(args, "data_command", None))))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # reported below, once the interrupted job's objects are gone (a progress bar prints)
        _kill_chapter_kernels()
    except BrokenPipeError:  # the reader went away (`phantom data check | head`): nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (book.NotebookError, ValueError, RuntimeError, OSError) as err:
        print(f"phantom {command}: error: {_message(err)}", file=sys.stderr)
        return 1
    gc.collect()
    print(f"\nphantom {command}: {_interrupted(args)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
