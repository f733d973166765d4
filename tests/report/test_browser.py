"""The run report in a real browser: headless Chromium renders every run, its script runs, the console stays quiet.

Chromium is driven from the command line (``--dump-dom`` prints the DOM after the page's
scripts have run; ``--enable-logging=stderr`` writes each console message to stderr as a
``CONSOLE`` line), so no browser-automation package is needed. Skipped where Chromium is
not installed (Debian package ``chromium``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from divelab.report.html import write_report
from tests.report.test_html import parse, write_run

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")

PROBE = """
var table = document.querySelector("#exp-softmax table");
var th = Array.from(table.tHead.rows[0].cells).find(function (c) { return c.textContent === "test_acc"; });
function order() { return Array.from(table.tBodies[0].rows).map(function (r) { return r.cells[0].textContent; }).join("|"); }
th.click(); document.body.dataset.up = order();
th.click(); document.body.dataset.down = order();
document.getElementById("collapse").click();
document.body.dataset.open = String(document.querySelectorAll("section.run > details[open]").length);
"""
CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)")


def open_in_chromium(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM of ``page`` after its scripts ran, and every message written to the console."""
    args = [CHROMIUM, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, [m.group(1) for m in map(CONSOLE.search, proc.stderr.splitlines()) if m]


def test_console_errors_are_caught(tmp_path):
    """The check below can fail: a page that logs an error and throws is seen doing both."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><body><p>x</p><script>console.error("broken on purpose");'
                    "document.body.dataset.ready = '1'; notDefined();</script></body>")
    dom, console = open_in_chromium(page, tmp_path / "profile")
    assert 'data-ready="1"' in dom
    assert any("broken on purpose" in m for m in console) and any("notDefined" in m for m in console), console


def test_report_renders_every_run_without_console_errors(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "softmax-a", "softmax", {"lr": 0.3}, {"test_acc": 0.81, "seconds": 2.0}, epochs_done=2,
              figures=("curves.png", "predictions.png"))
    write_run(root / "softmax-b", "softmax", None, {"test_acc": 0.79, "seconds": 1.5}, epochs_done=3)
    write_run(root / "deep/linreg <&>", "linreg", {"epochs": 5}, epochs_done=2)  # unfinished, odd name
    (root / "broken").mkdir()
    (root / "broken/config.json").write_text("{")
    path, runs = write_report(root)
    # after the page's own script: sort by a column (twice), collapse every run
    probe = path.with_name("probe.html")
    probe.write_text(path.read_text().replace("</body>", f"<script>{PROBE}</script></body>"))

    dom, console = open_in_chromium(probe, tmp_path / "profile")
    assert console == []
    document = parse(dom)
    body = next(document.iter("body"))
    assert body.attrs.get("data-ready") == "1"  # the page's script ran to its end
    shown = {s.attrs["data-run"] for s in document.iter("section") if "data-run" in s.attrs}
    assert shown == {r.label for r in runs} == {"softmax-a", "softmax-b", "deep/linreg <&>", "broken"}
    images = list(document.iter("img"))
    assert len(images) == 2 and all(i.attrs["src"].startswith("data:image/png;base64,") for i in images)
    assert len(list(document.iter("svg"))) == 4  # drawn curves of the two runs without curves.png
    assert (body.attrs["data-up"], body.attrs["data-down"]) == ("softmax-b|softmax-a", "softmax-a|softmax-b")
    assert body.attrs["data-open"] == "0"
