"""The run report: every run listed, settings and metrics right, figures embedded, text escaped, nothing loaded."""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import divelab
from divelab.cli import main
from divelab.experiments import EXPERIMENTS
from divelab.report.diagnose import diagnose_dir
from divelab.report.html import find_runs, format_value, render, write_report
from divelab.runner import default_settings

STARTED = "2024-05-01T10:00:00+00:00"


def write_run(directory: Path, experiment: str, overrides: dict[str, Any] | None = None,
              summary: dict[str, Any] | None = None, epochs_done: int = 0, figures: tuple[str, ...] = (),
              started: str = STARTED) -> Path:
    """A run directory as ``divelab run`` leaves it, written by hand; no summary = unfinished."""
    directory.mkdir(parents=True)
    defaults = default_settings(experiment)
    settings = {**defaults, **(overrides or {})}
    config = {"experiment": experiment, "settings": settings, "defaults": defaults,
              "headline": list(EXPERIMENTS[experiment].headline), "seed": settings["seed"], "device": "cpu",
              "versions": {"divelab": divelab.__version__}, "started": started}
    (directory / "config.json").write_text(json.dumps(config))
    records = [{"epoch": e, "train_loss": 2.0 / e, "test_loss": 2.5 / e, "train_acc": 1 - 0.5 / e,
                "test_acc": 1 - 0.6 / e} for e in range(1, epochs_done + 1)]
    (directory / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if summary is not None:
        (directory / "summary.json").write_text(json.dumps({"experiment": experiment, **summary}))
    for i, name in enumerate(figures):
        Image.new("RGB", (3 + i, 2), (200, 10 * i, 0)).save(directory / name)
    return directory


class Node:
    """An element of the parsed page: tag, attributes, children (nodes and text)."""

    def __init__(self, tag: str, attrs: dict[str, str | None]):
        self.tag, self.attrs, self.children = tag, attrs, []

    def iter(self, tag: str | None = None, **attrs: str):
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(child.attrs.get(k) == v for k, v in attrs.items()):
                    yield child
                yield from child.iter(tag, **attrs)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class _Tree(HTMLParser):
    VOID = {"img", "meta", "br", "hr", "input", "link"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    """The page as a tree; fails on an unbalanced tag."""
    tree = _Tree()
    tree.feed(page)
    tree.close()
    assert tree.stack == [tree.root], f"unclosed <{tree.stack[-1].tag}>"
    return tree.root


def _runs(root: Node) -> dict[str, Node]:
    return {s.attrs["data-run"]: s for s in root.iter("section") if "data-run" in s.attrs}


def _comparison(root: Node, experiment: str) -> list[dict[str, str]]:
    """The rows of an experiment's comparison table as {column: cell text}."""
    section = next(root.iter("section", id=f"exp-{experiment}"))
    table = next(section.iter("table"))
    columns = [th.text() for th in table.iter("th")]
    return [dict(zip(columns, (td.text() for td in tr.iter("td")))) for tr in list(table.iter("tr"))[1:]]


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "softmax-a", "softmax", {"lr": 0.3}, {"test_acc": 0.8123456, "seconds": 12.5},
              epochs_done=2, figures=("curves.png", "predictions.png"))
    write_run(root / "softmax-b", "softmax", {"epochs": 3}, {"test_acc": 0.7, "seconds": 3.25}, epochs_done=3,
              started="2024-06-01T09:30:00+02:00")
    write_run(root / "nested/softmax-c", "softmax", {"epochs": 4}, epochs_done=1,
              started="2024-04-01T00:00:00+00:00")  # unfinished
    write_run(root / "linreg", "linreg", None, {"w_error": 0.00123, "b_error": 2e-5, "seconds": 0.4,
                                                 "note": "fits"}, epochs_done=3, figures=("curves.png",))
    return root


def test_every_run_is_listed_with_date_status_changes_and_headline(runs):
    page = parse(render(find_runs(runs), runs))
    sections = _runs(page)
    assert set(sections) == {"softmax-a", "softmax-b", "nested/softmax-c", "linreg"}
    a, b, c = sections["softmax-a"].text(), sections["softmax-b"].text(), sections["nested/softmax-c"].text()
    assert "2024-05-01 10:00 UTC" in a and "2024-06-01 07:30 UTC" in b  # times shown in UTC
    assert "finished" in a and "unfinished (1/4 epochs)" in c
    assert "settings changed: lr=0.3" in a and "settings changed: epochs=3" in b
    assert "test_acc 0.8123" in a and "seconds 12.5" in a
    linreg = sections["linreg"].text()
    assert "w_error 0.00123" in linreg and "b_error 2e-05" in linreg and "settings changed: defaults" in linreg
    assert "note" not in linreg.split("settings changed")[0]  # the headline holds the registered keys only


def test_each_experiment_gets_a_comparison_table(runs):
    page = parse(render(find_runs(runs), runs))
    rows = _comparison(page, "softmax")
    assert [r["run"] for r in rows] == ["softmax-b", "softmax-a", "nested/softmax-c"]  # newest first
    assert [r["lr"] for r in rows] == ["0.1", "0.3", "0.1"] and [r["epochs"] for r in rows] == ["3", "10", "4"]
    assert [r["test_acc"] for r in rows] == ["0.7", "0.8123", "—"]
    assert rows[2]["status"].startswith("unfinished")
    assert list(rows[0]) == ["run", "date", "status", "diagnosis", "epochs", "lr", "test_acc", "seconds"]
    cells = {td.text(): td for td in next(page.iter("section", id="exp-softmax")).iter("td")}
    assert float(cells["0.8123"].attrs["data-v"]) == 0.8123456  # sorting uses the exact value
    assert [r["run"] for r in _comparison(page, "linreg")] == ["linreg"]


def test_each_run_shows_its_diagnosis(runs):
    """The page's diagnosis of each run is divelab diagnose's, in its section and in the comparison table."""
    page = parse(render(find_runs(runs), runs))
    sections = _runs(page)
    for label, section in sections.items():
        _, (found,) = diagnose_dir(runs / label)
        (block,) = [d for d in section.iter("div") if d.attrs.get("class") == "diagnosis"]
        assert f"{found.finding.kind} — {found.finding.title}" in block.text(), label
        assert found.finding.evidence[0] in block.text()
    assert "still falling" in sections["linreg"].text()  # 3 epochs falling as 1/epoch: a trend, quoted
    assert "too short to judge" in sections["nested/softmax-c"].text()  # 1 epoch
    assert _comparison(page, "linreg")[0]["diagnosis"] == "undertrained (linreg)"


def test_figures_are_embedded_and_nothing_is_loaded(runs):
    path, found = write_report(runs)
    page_text = path.read_text()
    assert path == runs / "index.html" and len(found) == 4
    for png in runs.rglob("*.png"):
        assert base64.b64encode(png.read_bytes()).decode() in page_text, png
    page = parse(page_text)
    sources = [img.attrs["src"] for img in page.iter("img")]
    assert len(sources) == len(list(runs.rglob("*.png"))) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page_text and "https://" not in page_text
    assert not list(page.iter("link")) and all("src" not in s.attrs for s in page.iter("script"))


def test_curves_are_drawn_from_the_metrics_when_the_run_has_no_curve_figure(runs):
    sections = _runs(parse(render(find_runs(runs), runs)))
    assert not list(sections["softmax-a"].iter("svg"))  # it has curves.png
    charts = list(sections["softmax-b"].iter("svg"))
    assert [next(c.iter("title")).text() for c in charts] == ["loss", "accuracy"]
    lines = list(charts[0].iter("polyline"))
    assert len(lines) == 2 and all(len(line.attrs["points"].split()) == 3 for line in lines)  # 3 epochs
    # train_loss falls (SVG y grows downwards)
    ys = [float(p.split(",")[1]) for p in lines[0].attrs["points"].split()]
    assert ys == sorted(ys)


def test_text_is_escaped(tmp_path):
    root = tmp_path / "runs"
    nasty = '<script>alert("x")</script> & more'
    write_run(root / "<b>odd</b>", "linreg", None, {"w_error": 0.1, "remark": nasty, "nested": {"k<": [nasty]}})
    page_text = render(find_runs(root), root)
    assert "<script>alert" not in page_text and "<b>odd" not in page_text
    page = parse(page_text)
    section = _runs(page)["<b>odd</b>"]
    assert nasty in section.text() and "k<" in section.text()
    assert len(list(page.iter("script"))) == 1  # ours


def test_damaged_runs_are_listed_not_fatal(tmp_path):
    root = tmp_path / "runs"
    (root / "bad-config").mkdir(parents=True)
    (root / "bad-config/config.json").write_text("{not json")
    write_run(root / "bad-summary", "linreg", summary=None, epochs_done=1)
    (root / "bad-summary/summary.json").write_text('{"w_error": ')
    write_run(root / "bad-metrics", "linreg", summary={"w_error": 0.5}, epochs_done=2)
    with (root / "bad-metrics/metrics.jsonl").open("a") as f:
        f.write('{"epoch": 3, "train_lo')  # cut off mid-write
    (root / "other").mkdir()
    (root / "other/config.json").write_text('{"name": "not a divelab run"}')
    runs = {r.label: r for r in find_runs(root)}
    assert set(runs) == {"bad-config", "bad-summary", "bad-metrics"}
    assert all(r.status == "damaged" for r in runs.values())
    assert "config.json is unreadable" in runs["bad-config"].problems[0]
    assert "summary.json is unreadable" in runs["bad-summary"].problems[0]
    assert runs["bad-metrics"].problems == ["metrics.jsonl line 3 is not a metrics record"]
    assert len(runs["bad-metrics"].histories[""]) == 2  # the good lines are kept
    sections = _runs(parse(render(list(runs.values()), root)))
    assert "damaged" in sections["bad-config"].text() and "line 3 is not a metrics record" in sections["bad-metrics"].text()


def test_a_run_of_an_experiment_that_no_longer_exists_reads_from_what_it_recorded(tmp_path):
    """The report reads the run's files alone: defaults and headline keys come from its config.json."""
    root = tmp_path / "runs"
    (root / "old").mkdir(parents=True)
    config = {"experiment": "retired", "settings": {"epochs": 3, "width": 64},
              "defaults": {"epochs": 3, "width": 32}, "headline": ["score"], "started": STARTED}
    (root / "old/config.json").write_text(json.dumps(config))
    (root / "old/summary.json").write_text(json.dumps({"experiment": "retired", "score": 0.5, "other": 2.0,
                                                       "seconds": 1.0}))
    (run,) = find_runs(root)
    assert run.status == "finished" and run.changed == {"width": 64} and run.headline == ["score", "seconds"]
    assert "settings changed: width=64" in _runs(parse(render([run], root)))["old"].text()


def test_a_run_that_recorded_no_defaults_shows_all_its_settings(tmp_path):
    """A run written before config.json held ``defaults`` and ``headline``: nothing is compared,
    every setting is listed, and the summary's plain numbers stand in for the headline."""
    root = tmp_path / "runs"
    (root / "old").mkdir(parents=True)
    config = {"experiment": "softmax", "settings": {"epochs": 3, "width": 64}, "started": STARTED}
    (root / "old/config.json").write_text(json.dumps(config))
    (root / "old/summary.json").write_text(json.dumps({"experiment": "softmax", "score": 0.5, "seconds": 1.0}))
    (run,) = find_runs(root)
    assert run.status == "finished" and run.changed == {} and run.headline == ["score", "seconds"]
    text = _runs(parse(render([run], root)))["old"].text()
    assert "the run did not record its experiment's defaults" in text and "width" in text


def test_the_report_imports_no_experiment(tmp_path):
    """The report is below the experiments (DESIGN.md's dependency direction): rendering a run
    loads neither the registry nor the runner."""
    write_run(tmp_path / "runs/linreg", "linreg", None, {"w_error": 0.1, "seconds": 1.0}, epochs_done=1)
    code = ("import sys\nfrom divelab.report.html import write_report\n"
            f"write_report({str(tmp_path / 'runs')!r})\n"
            "print(' '.join(m for m in sys.modules if m.startswith(('divelab.experiments', 'divelab.runner'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


@pytest.mark.parametrize("value, text", [
    (12, "12"), (123456, "123,456"), (0.8731234, "0.8731"), (1.5e-7, "1.5e-07"), (0.0, "0"),
    (12345.6, "12,346"), (2.5e9, "2.5e+09"), (math.nan, "nan"), (-math.inf, "-∞"), (True, "true"), (None, "—"),
    ({"a": 0.123456, "b": [1, 2]}, "{a: 0.1235, b: [1, 2]}"), ("text", "text"),
])
def test_format_value(value, text):
    assert format_value(value) == text


def test_long_values_are_cut():
    text = format_value(list(range(100)), limit=20)
    assert len(text) == 20 and text.endswith("…") and text.startswith("[0, 1, 2")


def test_report_of_a_real_run(tmp_path):
    """The report reads what ``divelab run`` writes (not only the hand-made runs above)."""
    divelab.run("linreg", epochs=1, lr=0.01, out=tmp_path / "runs/linreg-slow", progress=False)
    path, _ = write_report(tmp_path / "runs")
    page = parse(path.read_text())
    (row,) = _comparison(page, "linreg")
    assert (row["run"], row["status"], row["epochs"], row["lr"]) == ("linreg-slow", "finished", "1", "0.01")
    assert row["w_error"] not in ("", "—") and row["b_error"] not in ("", "—")
    figures = [f.name for f in (tmp_path / "runs/linreg-slow").glob("*.png")]
    captions = [c.text() for c in _runs(page)["linreg-slow"].iter("figcaption")]
    assert "curves.png" in figures and sorted(captions) == sorted(figures)
    config = json.loads((tmp_path / "runs/linreg-slow/config.json").read_text())  # what the report reads
    assert config["defaults"] == default_settings("linreg") and config["headline"] == list(EXPERIMENTS["linreg"].headline)


@pytest.mark.cli
def test_cli_writes_runs_index_by_default(capsys, runs, tmp_path):
    assert main(["report"]) == 0  # tests run in tmp_path, so runs/ is the fixture's
    out = capsys.readouterr().out
    assert out.strip() == "wrote runs/index.html: 4 runs (3 finished, 1 unfinished)"
    assert (runs / "index.html").is_file()
    assert main(["report", "runs", "--out", "elsewhere/page.html"]) == 0
    assert (tmp_path / "elsewhere/page.html").is_file()


@pytest.mark.cli
@pytest.mark.parametrize("argv, pattern", [
    (["report", "missing"], "missing is not a directory of runs"),
    (["report", ".", "--out", "."], "is a directory"),
])
def test_cli_errors_are_one_line(capsys, argv, pattern):
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0]


def test_file_names_that_are_not_utf8_are_shown_replaced(tmp_path):
    root = tmp_path / "runs"
    name = os.fsdecode(b"run-\xff")  # a name a Latin-1 system may have written
    write_run(root / name, "linreg", None, {"w_error": 0.1, "seconds": 1.0, "data": os.fsdecode(b"/data/caf\xe9")},
              epochs_done=2)
    path, found = write_report(root)
    page = path.read_text(encoding="utf-8")  # valid UTF-8
    assert len(found) == 1 and "run-\ufffd" in page and "/data/caf\ufffd" in page
