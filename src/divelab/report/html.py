"""The run report: one self-contained HTML page showing every run under a directory (``divelab report``).

A run is a directory whose ``config.json`` has divelab's form (``experiment`` and
``settings``). The page lists, per run, the experiment, date, the settings that differ
from the experiment's defaults, the headline metrics, the training curves and the run's
own figures, the training guide's diagnosis of each model (``divelab diagnose``); and, per
experiment, a table comparing its runs. Figures are embedded as
base64 PNG, style and the few lines of script are inline: the page loads nothing.

The page is made from the run files alone: the defaults and headline keys are those the
run recorded in ``config.json`` (so a run of an experiment since renamed or removed still
reads right); a run written before they were recorded shows all its settings instead.

One page, kept in one module because reading the runs, formatting values, the inline SVG curves
and the HTML sections all serve that single self-contained page and share its escaping.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from divelab.analysis.diagnosis import Diagnosis, diagnose_run
from divelab.errors import UserError
from divelab.files import atomic_write_bytes

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e")


@dataclass
class Run:
    """One run directory as read from disk; ``problems`` says what could not be read."""

    path: Path
    label: str  # the path relative to the report's root
    experiment: str = "(unreadable)"
    started: str = ""  # "YYYY-MM-DD HH:MM UTC"
    settings: dict[str, Any] = field(default_factory=dict)
    changed: dict[str, Any] = field(default_factory=dict)  # settings that differ from the defaults
    defaults: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "" or sub-run name → records
    figures: list[Path] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # device, versions
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.problems:
            return "damaged"
        return "finished" if self.summary is not None else "unfinished"


# ---- reading runs -------------------------------------------------------------------------

def _read_json(path: Path, run: Run) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        run.problems.append(f"{path.name} is unreadable ({exc})")
        return None


def _read_metrics(path: Path, run: Run) -> list[dict[str, Any]]:
    """The records of a ``metrics*.jsonl`` file; a bad line is reported and skipped."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        run.problems.append(f"{path.name} is unreadable ({exc})")
        return []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "epoch" in record:
            records.append(record)
        else:
            run.problems.append(f"{path.name} line {number} is not a metrics record")
    return records


def _date(record: dict[str, Any], config_path: Path) -> str:
    """When the run started (``config.json``'s ``started``), else when its config was written."""
    try:
        when = datetime.fromisoformat(str(record["started"]))
        when = when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    except (KeyError, ValueError, TypeError):
        when = datetime.fromtimestamp(config_path.stat().st_mtime, timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _recorded(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The experiment's default settings and headline keys as the run recorded them in ``config.json``;
    empty for a run written before divelab recorded them."""
    defaults, headline = record.get("defaults"), record.get("headline")
    return (defaults if isinstance(defaults, dict) else {},
            [str(k) for k in headline] if isinstance(headline, list) else [])


def _headline(summary: dict[str, Any] | None, keys: list[str]) -> list[str]:
    """The experiment's headline keys found in the summary; failing those, its plain numbers."""
    if not summary:
        return []
    found = [k for k in keys if k in summary]
    if not found:
        found = [k for k, v in summary.items() if _is_number(v) and k != "seconds"][:6]
    return found + (["seconds"] if "seconds" in summary else [])


def read_run(directory: Path, root: Path) -> Run | None:
    """The run in ``directory``, or None when its ``config.json`` is JSON of another kind."""
    label = directory.relative_to(root).as_posix() if directory != root else directory.resolve().name
    run = Run(directory, label)
    record = _read_json(directory / "config.json", run)
    if record is not None and not (isinstance(record, dict) and {"experiment", "settings"} <= record.keys()):
        return None
    record = record or {}
    run.experiment = str(record.get("experiment", run.experiment))
    run.started = _date(record, directory / "config.json")
    run.settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
    run.info = {k: record[k] for k in ("device", "threads", "versions") if k in record}
    run.defaults, keys = _recorded(record)
    if run.defaults:  # a run written before defaults were recorded has none to compare with
        run.changed = {k: v for k, v in run.settings.items() if k not in run.defaults or run.defaults[k] != v}
    if (directory / "summary.json").is_file():
        summary = _read_json(directory / "summary.json", run)
        if summary is not None and not isinstance(summary, dict):
            run.problems.append("summary.json is not a JSON object")
        run.summary = summary if isinstance(summary, dict) else None
    for path in sorted(directory.glob("metrics*.jsonl")):
        run.histories[path.stem.removeprefix("metrics").removeprefix("-")] = _read_metrics(path, run)
    run.figures = sorted(directory.glob("*.png"), key=lambda p: (not p.name.startswith("curves"), p.name))
    run.headline = _headline(run.summary, keys)
    return run


def find_runs(root: str | Path) -> list[Run]:
    """Every run in ``root`` or below it, sorted by experiment, then newest first."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root} is not a directory of runs; give the directory that holds them (default runs/)")
    runs = [read_run(p.parent, root) for p in root.rglob("config.json") if p.is_file()]
    found = [r for r in runs if r is not None]
    found.sort(key=lambda r: r.label)
    found.sort(key=lambda r: r.started, reverse=True)
    found.sort(key=lambda r: r.experiment)
    return found


# ---- formatting -----------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_value(value: Any, limit: int = 80) -> str:
    """A value as short text: numbers to 4 significant digits (thousands separated, large or
    tiny ones in e-notation), lists and dicts compactly, cut at ``limit`` characters."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "—"}[value]
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value).replace("inf", "∞")
        if value == 0 or 1e-3 <= abs(value) < 1e4:
            return f"{value:.4g}"
        return f"{value:,.0f}" if 1e4 <= abs(value) < 1e7 else f"{value:.3g}"
    if isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {format_value(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(format_value(v, limit) for v in value) + "]"
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _cell(value: Any, limit: int = 40, cls: str = "") -> str:
    """A table cell (full text on hover); numbers carry their value in ``data-v`` so the sort is numeric."""
    sort = f' data-v="{value!r}"' if _is_number(value) and math.isfinite(value) else ""
    klass = f' class="{cls}"' if cls else ""
    full = escape(format_value(value, 2000))
    return f'<td{sort}{klass} title="{full}">{escape(format_value(value, limit))}</td>'


def _value_html(value: Any) -> str:
    """A summary value in full: nested dicts as tables, lists of records as tables."""
    if isinstance(value, dict) and value:
        rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{_value_html(v)}</td></tr>" for k, v in value.items())
        return f'<table class="nested">{rows}</table>'
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(dict.fromkeys(k for row in value for k in row))
        head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
        body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in value[:100])
        more = f'<p class="muted">… {len(value) - 100} more rows</p>' if len(value) > 100 else ""
        return f'<table class="nested sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}'
    return escape(format_value(value, 300))


# ---- pieces of the page ---------------------------------------------------------------------

def _png(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = escape(path.name)
    return f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{name}</figcaption></figure>'


def _svg_text(x: float, y: float, text: str, anchor: str = "start", cls: str = "a", color: str = "#222") -> str:
    return f'<text x="{x}" y="{y}" class="{cls}" text-anchor="{anchor}" fill="{color}">{escape(text)}</text>'


def svg_curves(history: list[dict[str, Any]], keys: tuple[str, ...], title: str,
               width: int = 320, height: int = 180) -> str:
    """Inline SVG line chart of ``keys`` over the epochs of ``history`` ('' if none is recorded)."""
    usable = [r for r in history if _is_number(r.get("epoch"))]
    series = [(k, [(r["epoch"], r[k]) for r in usable if _is_number(r.get(k)) and math.isfinite(r[k])])
              for k in keys]
    series = [(k, pts) for k, pts in series if pts]
    if not series:
        return ""
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    left, right, top, bottom = 52, 8, 22, 22
    inner_w, inner_h = width - left - right, height - top - bottom

    def point(x: float, y: float) -> tuple[float, float]:
        return left + (x - x0) / (x1 - x0) * inner_w, height - bottom - (y - y0) / (y1 - y0) * inner_h

    parts = [f'<svg class="curve" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
             f"<title>{escape(title)}</title>",
             f'<rect x="{left}" y="{top}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#bbb"/>',
             _svg_text(left, 14, title, cls="t"),
             _svg_text(left - 4, top + 8, format_value(y1), anchor="end"),
             _svg_text(left - 4, height - bottom, format_value(y0), anchor="end"),
             _svg_text(left, height - 6, f"epoch {format_value(x0)}"),
             _svg_text(width - right, height - 6, format_value(x1), anchor="end")]
    for i, (key, pts) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        xy = [point(x, y) for x, y in pts]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                     f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in xy)}"/>')
        if len(xy) <= 40:  # markers, so that a single epoch shows too
            parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}"/>' for px, py in xy]
        parts.append(_svg_text(width - right - 4, top + 12 + 12 * i, key, anchor="end", color=color))
    return "".join(parts) + "</svg>"


def _curves(run: Run) -> str:
    """Training curves drawn as SVG from the run's metrics, for a run that has no ``curves*.png``
    of its own (an unfinished run, or one from an experiment that draws none)."""
    pngs = [p for p in run.figures if p.name.startswith("curves")]
    if pngs or not any(run.histories.values()):
        return ""
    charts = []
    for name, history in run.histories.items():
        suffix = f" ({name})" if name else ""
        charts.append(svg_curves(history, ("train_loss", "val_loss", "test_loss"), "loss" + suffix))
        charts.append(svg_curves(history, ("train_acc", "val_acc", "test_acc"), "accuracy" + suffix))
    return '<div class="figs">' + "".join(charts) + "</div>"


def _figures(run: Run) -> str:
    shown = []
    for path in run.figures:
        try:
            shown.append(_png(path))
        except OSError as exc:
            shown.append(f'<p class="problem">{escape(path.name)} is unreadable ({escape(str(exc))})</p>')
    return '<div class="figs">' + "".join(shown) + "</div>" if shown else ""


def _status(run: Run) -> str:
    text = run.status
    if run.status == "unfinished":
        done = max((len(h) for h in run.histories.values()), default=0)
        planned = run.settings.get("epochs")
        text += f" ({done}/{planned} epochs)" if _is_number(planned) else ""
    return f'<span class="status {run.status}">{escape(text)}</span>'


def _settings_table(run: Run) -> str:
    """Every setting of the run beside its default, collapsed; the changed ones stand out."""
    if not run.settings:
        return ""
    rows = []
    for key, value in run.settings.items():
        default = escape(format_value(run.defaults[key], 120)) if key in run.defaults else "no default"
        kind = "changed" if key in run.changed else "default"
        rows.append(f'<tr class="{kind}"><th>{escape(str(key))}</th>{_cell(value, 120)}'
                    f'<td class="muted">{default}</td></tr>')
    return ('<details><summary>all settings</summary><table><thead><tr><th>setting</th><th>value</th>'
            f"<th>default</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>")


def _changed_text(run: Run) -> str:
    if not run.settings:
        return "unknown"
    if not run.defaults:
        return "unknown: the run did not record its experiment's defaults (see all settings)"
    return ", ".join(f"{k}={format_value(v)}" for k, v in run.changed.items()) or "defaults"


def diagnoses(run: Run) -> list[Diagnosis]:
    """The training guide's reading of the run (``divelab diagnose``); none for a damaged run."""
    if run.problems or not run.settings:
        return []
    return diagnose_run(run.experiment, run.histories, run.summary, run.settings, run_dir=str(run.path))


def _diagnosis_kinds(found: list[Diagnosis]) -> str:
    """E.g. "optimisation (plain-56); good-fit × 3"."""
    counts: dict[str, list[str]] = {}
    for d in found:
        counts.setdefault(d.finding.kind, []).append(d.model)
    return "; ".join(f"{kind} ({models[0]})" if len(models) == 1 else f"{kind} × {len(models)}"
                     for kind, models in counts.items())


def _diagnosis(found: list[Diagnosis]) -> str:
    """Per model: the finding, with its evidence and next steps folded away."""
    if not found:
        return ""
    items = []
    for d in found[:20]:
        f = d.finding
        details = "".join(f"<li>{escape(e)}</li>" for e in f.evidence)
        details += "".join(f"<li><i>next:</i> {escape(a)}</li>" for a in f.advice)
        details += "".join(f"<li><i>also {escape(o.kind)}:</i> {escape(o.title)}</li>" for o in d.also)
        items.append(f"<li><b>{escape(d.model)}</b>: {escape(f.kind)} — {escape(f.title)}"
                     f"<details><summary>evidence and next steps</summary><ul>{details}</ul></details></li>")
    more = f"<li class=\"muted\">… {len(found) - 20} more (divelab diagnose)</li>" if len(found) > 20 else ""
    return f'<div class="diagnosis"><b>diagnosis</b> (the training guide, as <code>divelab diagnose</code>):' \
           f'<ul>{"".join(items)}{more}</ul></div>'


def _run_section(run: Run, index: int) -> str:
    headline = ", ".join(f"{k} {format_value(run.summary[k])}" for k in run.headline) if run.summary else ""
    changed = _changed_text(run)
    problems = "".join(f'<p class="problem">{escape(p)}</p>' for p in run.problems)
    summary = ""
    if run.summary:
        rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{_value_html(v)}</td></tr>"
                       for k, v in run.summary.items() if k != "experiment")
        summary = f'<table class="summary">{rows}</table>'
    info = ", ".join(f"{k} {format_value(v, 200)}" for k, v in run.info.items())
    return (f'<section class="run" id="run-{index}" data-run="{escape(run.label)}">'
            f'<details open><summary><b>{escape(run.label)}</b> · {escape(run.experiment)} · '
            f'{escape(run.started)} · {_status(run)} <span class="headline">{escape(headline)}</span></summary>'
            f'{problems}<p><b>settings changed:</b> {escape(changed)}</p>'
            f'<p class="muted">{escape(info)}</p>{_diagnosis(diagnoses(run))}{summary}{_settings_table(run)}'
            f"{_curves(run)}{_figures(run)}</details></section>")


def _comparison(experiment: str, runs: list[tuple[int, Run]]) -> str:
    """One table per experiment: a row per run, columns for its changed settings and headline metrics."""
    settings = list(dict.fromkeys(k for _, r in runs for k in r.changed))
    metrics = list(dict.fromkeys(k for _, r in runs for k in r.headline if k != "seconds"))
    metrics += ["seconds"] if any("seconds" in r.headline for _, r in runs) else []
    head = "".join(f"<th>{escape(c)}</th>" for c in ["run", "date", "status", "diagnosis", *settings, *metrics])
    rows = []
    for index, run in runs:
        cells = [f'<td><a href="#run-{index}">{escape(run.label)}</a></td>', f"<td>{escape(run.started)}</td>",
                 f"<td>{_status(run)}</td>", f"<td>{escape(_diagnosis_kinds(diagnoses(run)))}</td>"]
        cells += [_cell(run.settings.get(k), cls="" if k in run.changed else "muted") for k in settings]
        cells += [_cell((run.summary or {}).get(k)) for k in metrics]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<section class="experiment" id="exp-{escape(experiment)}"><h3>{escape(experiment)} '
            f'<span class="muted">({len(runs)} run{"s" if len(runs) != 1 else ""})</span></h3>'
            f'<table class="sortable compare"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            "</section>")


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.4em 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
td[data-v]{text-align:right;font-variant-numeric:tabular-nums}thead th{background:#f3f3f3}
table.sortable thead th{cursor:pointer}table.nested{font-size:12px}
.muted,tr.default td,tr.default th{color:#888}.problem{color:#b00;font-weight:bold}
.status{padding:0 4px;border-radius:3px}.finished{background:#dfd}.unfinished{background:#ffd}.damaged{background:#fdd}
.headline{color:#555;margin-left:.5em}section.run{border-top:1px solid #ccc;padding:.3em 0}
details>summary{cursor:pointer}.figs{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}
figure{margin:0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:12px;color:#666}
svg.curve text.t{font-size:12px}svg.curve text.a{font-size:10px}
.diagnosis ul{margin:.2em 0}.diagnosis details{display:inline;margin-left:.5em;font-size:12px}
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var dir = th.dataset.dir === "asc" ? -1 : 1;
      th.dataset.dir = dir === 1 ? "asc" : "desc";
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        if (!x || !y) return 0;
        if (x.dataset.v !== undefined && y.dataset.v !== undefined) return dir * (x.dataset.v - y.dataset.v);
        return dir * x.textContent.localeCompare(y.textContent);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
function setOpen(open) { document.querySelectorAll("section.run > details").forEach(function (d) { d.open = open; }); }
document.getElementById("expand").addEventListener("click", function () { setOpen(true); });
document.getElementById("collapse").addEventListener("click", function () { setOpen(false); });
document.body.dataset.ready = "1";
"""


def tally(runs: list[Run]) -> str:
    """E.g. "5 runs (3 finished, 1 unfinished, 1 damaged)"."""
    counts = {s: sum(r.status == s for r in runs) for s in ("finished", "unfinished", "damaged")}
    parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return f"{len(runs)} run{'s' if len(runs) != 1 else ''}" + (f" ({parts})" if parts else "")


def render(runs: list[Run], root: str | Path) -> str:
    """The whole page for ``runs`` found under ``root``."""
    indexed = list(enumerate(runs, 1))
    experiments: dict[str, list[tuple[int, Run]]] = {}
    for index, run in indexed:
        experiments.setdefault(run.experiment, []).append((index, run))
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    comparison = "".join(_comparison(e, rs) for e, rs in experiments.items()) or "<p>No runs found.</p>"
    sections = "".join(_run_section(run, index) for index, run in indexed)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>divelab runs: {escape(str(root))}'
            f'</title><meta name="viewport" content="width=device-width"><style>{STYLE}</style></head><body>'
            f'<h1>divelab runs <span class="muted">{escape(str(root))}</span></h1>'
            f'<p>{escape(tally(runs))}; written {generated}. '
            'Click a column heading to sort. <button id="expand">expand all</button> '
            '<button id="collapse">collapse all</button></p>'
            f"<h2>Comparison by experiment</h2>{comparison}<h2>Runs</h2>{sections}"
            f"<script>{SCRIPT}</script></body></html>")


def _utf8(page: str) -> bytes:
    """The page as UTF-8; bytes of file names that are not UTF-8 (held as surrogates) become U+FFFD."""
    return page.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode("utf-8")


def write_report(root: str | Path = "runs", out: str | Path | None = None) -> tuple[Path, list[Run]]:
    """Write the report of every run under ``root`` to ``out`` (default ``root/index.html``)."""
    runs = find_runs(root)
    path = Path(out) if out is not None else Path(root) / "index.html"
    if path.is_dir():
        raise UserError(f"--out {path} is a directory; give a file name such as {path / 'index.html'}")
    try:
        atomic_write_bytes(path, _utf8(render(runs, root)))
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror}); choose another --out") from None
    return path, runs
