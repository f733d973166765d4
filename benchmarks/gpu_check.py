"""The GPU check: `mlp`, `resnet`, `speedrun` and a short `transformer` on a CUDA device under
``precision=auto``, and the paths that only a GPU takes (fp16 with loss scaling, NCCL).

The GPU machine reaches no network and has none of the Debian data packages, so it is two steps:

1. Here, once: ``.venv/bin/python benchmarks/gpu_check.py bundle .gpu`` copies Fashion-MNIST's
   four IDX files and writes the aligned Bible verse pairs to ``.gpu/pairs.tsv`` (≈ 38 MB;
   ``.gpu/`` is git-ignored). A pairs file of all the verses is split as the Bible corpus is
   (the same 1,000 test verses), so BLEU there compares with BLEU here.
2. There, from the repository root with ``.gpu`` carried along (the ``device`` tool's ``run``
   with ``carry: [".gpu"]``; its python3 holds torch, numpy, matplotlib, scipy, tqdm,
   safetensors and sentencepiece; pysword is not needed with the pairs file)::

       PYTHONPATH=src PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py run --bundle .gpu \
           --out /tmp/gpu && cp /tmp/gpu/gpu_check.json "$OUT/"

   Each check trains into ``DIR/NAME`` (``--out DIR``) and is reported as it ends (stderr); one
   that fails is reported with its error and the next one runs. stdout and
   ``DIR/gpu_check.json`` get ONE JSON object: the machine facts, and per check its
   experiment, settings, the precision used, its headline numbers, FLOP utilisation where the
   run reports it, and its seconds.

``run --device cpu --quick`` runs every check on a CPU with one short epoch each (a few
minutes), to try the script before device time is spent on it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timing import log

from divelab import machine


@dataclass(frozen=True)
class Check:
    """One run of an experiment: ``settings`` as ``--set`` gives them; ``quick`` replaces some for ``--quick``."""

    name: str
    experiment: str
    settings: dict[str, Any] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    processes: int = 0  # > 0: launched with torchrun, that many processes (NCCL on CUDA)
    cuda_only: bool = False  # skipped on other devices


CHECKS = (
    Check("mlp", "mlp", quick={"epochs": 1}),
    Check("mlp-fp16", "mlp", {"precision": "fp16"}, quick={"epochs": 1}, cuda_only=True),
    Check("resnet", "resnet", quick={"epochs": 1}),
    *(Check(f"speedrun-seed{seed}", "speedrun", {"seed": seed}, quick={"epochs": 1}) for seed in (0, 1, 2)),
    Check("transformer", "transformer", {"epochs": 2, "warmup_epochs": 0.5},
          quick={"epochs": 1, "max_pairs": 2000, "warmup_epochs": 0.2}),
    Check("lenet-torchrun", "lenet", {"epochs": 2}, quick={"epochs": 1}, processes=1),
)
# what each check reports besides its experiment's headline
EXTRA_KEYS = ("precision", "seconds", "model_gflops_per_s", "peak_gflops_per_s", "mfu", "train_tokens_per_s")


def bundle(directory: Path) -> None:
    """Fashion-MNIST's IDX files and the Bible verse pairs (TSV) into ``directory``."""
    from divelab.data import fashion_mnist
    from divelab.data.parallel import bible_pairs

    directory.mkdir(parents=True, exist_ok=True)
    images = directory / "fashion-mnist"
    images.mkdir(exist_ok=True)
    source = fashion_mnist.load().source
    for path in Path(source).glob("*-ubyte*"):
        shutil.copy2(path, images / path.name)
    verses, _ = bible_pairs()
    if any("\t" in text or "\n" in text for v in verses for text in (v.source, v.target)):
        raise SystemExit("error: a verse holds a tab or a line break; the pairs file cannot keep it apart")
    # one pair per line, a tab between the sides (the format read_pairs reads)
    rows = (f"{v.source}\t{v.target}\n" for v in verses)
    (directory / "pairs.tsv").write_text("".join(rows), encoding="utf-8")
    log(f"bundle: {len(list(images.iterdir()))} IDX files and {len(verses)} verse pairs in {directory}")


def settings_of(check: Check, device: str, quick: bool) -> dict[str, Any]:
    return {**check.settings, **(check.quick if quick else {}), "device": device}


def run_in_process(check: Check, settings: dict[str, Any], out: Path) -> dict[str, Any]:
    import divelab
    from divelab.runner import get_experiment

    summary = divelab.run(check.experiment, out=out, progress=False, **settings).summary
    keys = (*get_experiment(check.experiment).headline, *EXTRA_KEYS)
    return {key: summary[key] for key in keys if key in summary}


def run_with_torchrun(check: Check, settings: dict[str, Any], out: Path) -> dict[str, Any]:
    """``torchrun --nproc_per_node N -m divelab run …``: the process group (NCCL on CUDA, gloo on CPUs)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={check.processes}",
               "-m", "divelab", "run", check.experiment, "--out", str(out), "--quiet",
               *(f"--set={key}={value}" for key, value in settings.items())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"exit status {done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    processes = json.loads((out / "config.json").read_text())["processes"]
    return {"processes": processes, **{key: summary[key] for key in ("test_acc", *EXTRA_KEYS) if key in summary}}


def run_checks(out: Path, device: str, quick: bool, only: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = {"benchmark": "gpu_check", "machine": machine.facts(device), "quick": quick, "checks": {}}
    for check in CHECKS:
        if only and check.name not in only:
            continue
        settings = settings_of(check, device, quick)
        start = time.perf_counter()
        entry: dict[str, Any] = {"experiment": check.experiment, "settings": settings}
        if check.cuda_only and not device.startswith("cuda"):
            entry["skipped"] = "needs a CUDA device"
        else:
            entry.update(run_check(check, settings, out / check.name))
        entry["wall_seconds"] = round(time.perf_counter() - start, 1)
        report["checks"][check.name] = entry
        log(f"{check.name}: {json.dumps(entry)}")
    return report


def run_check(check: Check, settings: dict[str, Any], out: Path) -> dict[str, Any]:
    """``{"result": …}`` of one check, or ``{"error": …}`` (one failing check must not hide the others)."""
    try:
        runner = run_with_torchrun if check.processes else run_in_process
        return {"result": runner(check, settings, out)}
    except Exception as error:  # noqa: BLE001
        return {"error": f"{type(error).__name__}: {error}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    make = steps.add_parser("bundle", help="copy the data the checks need into a directory (run it here)")
    make.add_argument("directory", type=Path)
    check = steps.add_parser("run", help="run the checks (on the GPU machine)")
    check.add_argument("--bundle", type=Path, required=True, help="the directory `bundle` wrote")
    check.add_argument("--out", type=Path, required=True, help="where the runs and gpu_check.json go")
    check.add_argument("--device", default="cuda")
    check.add_argument("--quick", action="store_true", help="one short epoch per check")
    check.add_argument("--only", nargs="*", default=[], metavar="NAME", help="these checks only: "
                       + ", ".join(c.name for c in CHECKS))
    args = parser.parse_args()
    if args.step == "bundle":
        bundle(args.directory)
        return
    unknown = set(args.only) - {c.name for c in CHECKS}
    if unknown:
        parser.error(f"no check named {', '.join(sorted(unknown))}")
    # the data the divelab runs (and torchrun's children) read
    os.environ["DIVELAB_DATA"] = str((args.bundle / "fashion-mnist").resolve())
    os.environ["DIVELAB_PAIRS"] = str((args.bundle / "pairs.tsv").resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    report = run_checks(args.out, args.device, args.quick, args.only)
    text = json.dumps(report, indent=2)
    (args.out / "gpu_check.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
