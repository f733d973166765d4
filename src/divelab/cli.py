"""The ``divelab`` command: ``list``, ``run``, ``show``, ``report``, ``diagnose``, ``translate`` and ``exercise``
(see DESIGN.md for the contract).

Kept thin: parsing and printing only; the work is in :mod:`divelab.runner`.

Long only because it has seven subcommands: each is a short parse-and-print function, and
together they are the command-line contract, best read in one place.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import threading
from typing import Any, NoReturn

from divelab.errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``error:`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="divelab", description="Dive into Deep Learning as a working lab.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p_list = sub.add_parser("list", help="list every experiment")
    p_list.add_argument("--json", action="store_true", help="print a JSON list")
    p_list.add_argument("--models", action="store_true", help="list the registered models instead")

    p_run = sub.add_parser("run", help="run one experiment")
    p_run.add_argument("name", help="experiment name (see 'divelab list')")
    for flag, key in (("--epochs", "N"), ("--batch-size", "B"), ("--lr", "LR"), ("--seed", "S")):
        p_run.add_argument(flag, metavar=key, help=f"override the experiment's {flag[2:]}")
    p_run.add_argument("--device", metavar="D", help="auto (default), cpu, cuda, cuda:N or mps")
    p_run.add_argument("--out", metavar="DIR", help="output directory (default runs/NAME)")
    p_run.add_argument("--resume", action="store_true", help="continue from the checkpoint in the output directory")
    p_run.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                       help="override any setting of the experiment (repeatable); 'divelab run NAME --help-settings' lists them")
    p_run.add_argument("--help-settings", action="store_true", help="list the experiment's settings and defaults")
    p_run.add_argument("--quiet", action="store_true", help="no progress display")

    p_show = sub.add_parser("show", help="print a run's summary and where its figures are")
    p_show.add_argument("dir", help="run directory, e.g. runs/mlp")

    p_report = sub.add_parser("report", help="write one HTML page showing every run under a directory")
    p_report.add_argument("runs_dir", nargs="?", default="runs", metavar="RUNS_DIR",
                          help="directory searched for runs, recursively (default runs/)")
    p_report.add_argument("--out", metavar="FILE", help="the page to write (default RUNS_DIR/index.html)")

    p_diagnose = sub.add_parser("diagnose", help="read a run's curves by the training guide: what is wrong, what to try")
    p_diagnose.add_argument("dir", metavar="RUN_DIR", help="a run directory, e.g. runs/mlp (finished or not)")
    p_diagnose.add_argument("--baseline", metavar="RUN_DIR",
                            help="a run of a simpler model on the same data (shallower, no more parameters): "
                                 "tells optimisation failures from model bias")
    p_diagnose.add_argument("--json", action="store_true", help="print JSON")

    p_translate = sub.add_parser("translate", help="translate sentences with a finished translation run")
    p_translate.add_argument("run_dir", metavar="RUN_DIR", help="a finished seq2seq, seq2seq-attention or transformer run")
    p_translate.add_argument("sentences", nargs="*", metavar="SENTENCE",
                             help="sentences to translate (default: one per line from standard input)")
    p_translate.add_argument("--beam", type=int, metavar="K", help="beam size (default: the run's; 1 = greedy)")
    p_translate.add_argument("--device", default="auto", metavar="D", help="auto (default), cpu, cuda, cuda:N or mps")

    from divelab.exercises.commands import add_parser as add_exercise_parser

    add_exercise_parser(sub)
    return parser


def _cmd_list(args: argparse.Namespace) -> None:
    if args.models:
        _list_models(args.json)
        return
    from divelab.experiments import EXPERIMENTS

    rows = [{"name": e.name, "topic": e.topic, "description": e.description, "headline": list(e.headline)}
            for e in EXPERIMENTS.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    topic_width = max(len(r["topic"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['topic']:<{topic_width}}  {r['description']}")


def _model_row(spec: Any) -> dict[str, Any]:
    """One model of the registry at its CPU default: its settings, size and cost of one forward call."""
    import torch

    from divelab.analysis.flops import count_call, count_parameters

    example = spec.example()
    # A CNN is measured on the meta device (shapes only: nothing allocated, nothing computed); the
    # other models read the values of their inputs (sequence lengths, padding), so they run for real
    # on one example, with the global random state left as it was.
    device = "meta" if spec.kind == "cnn" else "cpu"
    with torch.random.fork_rng(devices=[]), torch.device(device):
        model = spec.build(**spec.cpu_kwargs())
        macs = count_call(model, *example.inputs(batch=1, device=device)).macs
        params = count_parameters(model)
    row = {"name": spec.name, "kind": spec.kind, "description": spec.description, "section": spec.section,
           "cpu": spec.cpu_kwargs(), "course": spec.course_kwargs(), "example": example.describe(),
           "cpu_parameters": params, "cpu_macs_per_example": macs}
    if spec.kind in ("cnn", "image"):
        row["cpu_macs_per_image"] = macs
    return row


def _list_models(as_json: bool) -> None:
    """``divelab list --models``: every registered model at its CPU default, with its size and cost
    (multiply–accumulates of one example: an image, a sequence, a sentence pair), grouped by kind."""
    from divelab.models.registry import KIND_SIGNATURES, MODELS

    rows = [_model_row(spec) for spec in MODELS.values()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for kind, signature in KIND_SIGNATURES.items():
        group = [r for r in rows if r["kind"] == kind]
        if not group:
            continue
        settings = [", ".join(f"{k}={v}" for k, v in r["cpu"].items()) or "(its defaults)" for r in group]
        last = "course" if kind == "cnn" else "example"
        lasts = [f"{r['course']['input_size']} px" if kind == "cnn" else r["example"] for r in group]
        width, cpu_width = max(len(r["name"]) for r in group), max(map(len, settings), default=0)
        last_width = max(len(last), *map(len, lasts))
        if kind != next(iter(KIND_SIGNATURES)):
            print()
        print(f"{kind}: {signature}")
        print(f"{'model':<{width}}  {'CPU default':<{cpu_width}}  {'params':>9}  {'MACs/ex':>10}  "
              f"{last:<{last_width}}  description")
        for r, setting, value in zip(group, settings, lasts):
            print(f"{r['name']:<{width}}  {setting:<{cpu_width}}  {r['cpu_parameters']:>9,}  "
                  f"{r['cpu_macs_per_example']:>10,}  "
                  f"{value:<{last_width}}  {r['description']}")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    from divelab.config import parse_assignments

    settings = parse_assignments(args.sets)
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
             "device": args.device}
    for key, value in flags.items():
        if value is None:
            continue
        if key in settings and settings[key] != value:
            raise UserError(f"{key} given twice (--{key.replace('_', '-')} {value} and --set {key}={settings[key]})")
        settings[key] = value
    return settings


def _cmd_run(args: argparse.Namespace) -> None:
    from divelab import runner
    from divelab.config import show

    if args.help_settings:
        exp = runner.get_experiment(args.name)
        print(f"{exp.name}: {exp.description}\nsettings (--set key=value):")
        for key, value in runner.default_settings(args.name).items():
            print(f"  {key} = {show(value) if isinstance(value, list) else repr(value)}")  # a list as --set takes it
        return
    result = runner.run(args.name, out=args.out, resume=args.resume, progress=not args.quiet, **_settings(args))
    if result.rank == 0:  # under torchrun, one process prints
        _print_result(result)


def _print_result(result: Any) -> None:
    print(f"\n{result.name}: finished in {result.out_dir}")
    for key, value in result.summary.items():
        if key != "experiment":
            _print_entry(key, value, indent=2)
    if result.figures:
        print("figures:")
        for path in result.figures:
            print(f"  {path}")


def _print_entry(key: str, value: Any, indent: int) -> None:
    """One summary entry: a number or text on one line, a dict as indented entries, a list of
    records (dicts with the same keys) as a table."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        print(f"{pad}{key}")
        for k, v in value.items():
            _print_entry(str(k), v, indent + 2)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(dict.fromkeys(k for row in value for k in row))
        cells = [[_format(row.get(c, "")) for c in columns] for row in value]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        print(f"{pad}{key}")
        for row in [columns, *cells]:
            print(pad + "  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    else:
        print(f"{pad}{key:<16} {_format(value)}")


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


def _cmd_show(args: argparse.Namespace) -> None:
    from divelab.runner import load_run

    _print_result(load_run(args.dir))


def _cmd_report(args: argparse.Namespace) -> None:
    from divelab.report.html import tally, write_report

    path, runs = write_report(args.runs_dir, args.out)
    print(f"wrote {path}: {tally(runs)}")


def _cmd_diagnose(args: argparse.Namespace) -> None:
    from divelab.report.diagnose import as_json, as_text, diagnose_dir

    run, diagnoses = diagnose_dir(args.dir, args.baseline)
    print(json.dumps(as_json(run, diagnoses), indent=2, ensure_ascii=False) if args.json else as_text(run, diagnoses))


def _cmd_translate(args: argparse.Namespace) -> None:
    from divelab.config import RunConfig
    from divelab.runner import resolve_device
    from divelab.translate import load

    RunConfig(device=args.device).validate()  # the same device check as `divelab run`
    translator = load(args.run_dir, device=resolve_device(args.device))  # checked before reading standard input
    sentences = args.sentences or _stdin_lines()
    wanted = [i for i, s in enumerate(sentences) if s.strip()]
    answers = [""] * len(sentences)  # line N out answers line N in; a blank line in, a blank line out
    for i, line in zip(wanted, translator.translate([sentences[i] for i in wanted], beam_size=args.beam)):
        answers[i] = line
    for line in answers:
        print(line)


def _stdin_lines() -> list[str]:
    """Standard input's lines (without line ends); a line that is not UTF-8 is a UserError naming it."""
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
    raw = data.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()  # the final line end ends the last line; it starts none
    lines = []
    for number, line in enumerate(raw, 1):
        try:
            lines.append(line.removesuffix(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise UserError(f"standard input line {number} is not UTF-8 text (byte {exc.start + 1}); "
                            "convert it first, e.g. with iconv -t UTF-8") from None
    return lines


def _cmd_exercise(args: argparse.Namespace) -> int:
    from divelab.exercises.commands import run

    return run(args)


def command() -> NoReturn:
    """The installed ``divelab`` program: :func:`main`, then exit with its status. Once a run
    has stopped for Ctrl-C, further Ctrl-Cs are ignored until the process is gone."""
    raise SystemExit(main(keep_ignoring_ctrl_c=True))


def main(argv: list[str] | None = None, *, keep_ignoring_ctrl_c: bool = False) -> int:
    """The ``divelab`` command line ``argv``; returns its exit status. A second Ctrl-C while
    the first is being handled ends it quietly (status 130); the Ctrl-C handler is then
    restored, unless the process is about to exit (``keep_ignoring_ctrl_c``)."""
    previous = signal.getsignal(signal.SIGINT)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        _stop_listening_to_ctrl_c()
        return EXIT_INTERRUPTED
    finally:
        if not keep_ignoring_ctrl_c and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)


def _stop_listening_to_ctrl_c() -> None:
    """Once divelab is stopping, further Ctrl-Cs change nothing (the checkpoint is written)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    from divelab.train.trainer import Interrupted

    try:
        commands = {"list": _cmd_list, "run": _cmd_run, "show": _cmd_show, "report": _cmd_report,
                    "diagnose": _cmd_diagnose, "translate": _cmd_translate, "exercise": _cmd_exercise}
        status = commands[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Interrupted as exc:
        _stop_listening_to_ctrl_c()
        resume = f"; continue with: divelab run {args.name} --resume" + (f" --out {args.out}" if args.out else "")
        print(f"stopped: {exc}{resume if exc.directory else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        _stop_listening_to_ctrl_c()
        print("stopped by Ctrl-C", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of our output went away (`divelab list | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        print(f"error: a path is too long for the file system ({_shortened(exc.filename)}: a name over 255 "
              "bytes, or a path over 4,096); give a shorter one", file=sys.stderr)
        return EXIT_USER_ERROR
    return status or 0


def _shortened(path: object, keep: int = 60) -> str:
    """``path`` with its middle elided when it is long, to fit an error line."""
    text = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else "?"
    return text if len(text) <= 2 * keep else f"{text[:keep]}…{text[-keep:]}"
