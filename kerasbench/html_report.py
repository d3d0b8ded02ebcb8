"""One self-contained HTML page per profile, rebuilt from the run records.

For every study folder ``<results>/<profile>/<study>/`` with records, the study's own
verbs (``tables``, ``figures``, ``compare_with_paper``) are called on its finished
records, with the parameters its executed notebook ran with where a verb takes them by
name. The page holds each study's paper-vs-this-run table first, then its figures as
base64 PNGs and its other tables; nothing on the page refers to another file. A study
whose package fails (mid-refactor, a bad record) gets a section saying what failed, and
the page is still written. Rebuilt CSV, markdown and PNG files are kept under
``<profile>/report_files/<study>/``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import inspect
import io
import json
import os
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["StudySection", "build_study", "find_profiles", "render_page", "write_reports"]

MAX_FIGURES = 12
MAX_TABLE_ROWS = 60


@dataclass
class StudySection:
    study: str
    title: str
    folder: Path
    status: str = "ok"  # ok | partial | failed | no records
    records: int = 0
    unfinished: int = 0
    demo: bool = False
    note: str = ""
    notebook: str = ""
    comparison: str = ""  # HTML
    tables: list = field(default_factory=list)  # (name, HTML)
    figures: list = field(default_factory=list)  # (name, base64 PNG)
    figures_left_out: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # (what, message, traceback)
    failure: str = ""  # why the section could not be built


# --------------------------------------------------------------------------- discovery


def _is_study_folder(folder: Path) -> bool:
    return (folder / "records").is_dir()


def find_profiles(results: str | os.PathLike) -> dict[str, dict[str, Path]]:
    """``{profile: {study: folder}}`` under ``results`` (a results root such as
    ``./results``, or one profile's folder such as ``./results/test``)."""
    results = Path(results)
    if not results.is_dir():
        return {}
    children = sorted(p for p in results.iterdir() if p.is_dir())
    if any(_is_study_folder(child) for child in children):
        return {results.name: {c.name: c for c in children if _is_study_folder(c)}}
    found = {}
    for profile in children:
        studies = {c.name: c for c in sorted(profile.iterdir())
                   if c.is_dir() and _is_study_folder(c)}
        if studies:
            found[profile.name] = studies
    return found


# --------------------------------------------------------------------------- one study


def _read_records(folder: Path, section: StudySection) -> list:
    from kerasbench.records import RunRecord

    records = []
    for path in sorted((folder / "records").rglob("*.json")):
        try:
            record = RunRecord.read(path)
        except Exception as error:  # noqa: BLE001 - reported on the page
            section.problems.append((f"record {path.relative_to(folder)}", str(error), ""))
            continue
        if record.finished:
            records.append(record)
        else:
            section.unfinished += 1
    return sorted(records, key=lambda record: record.created_at)


def _notebook_parameters(folder: Path, study: str) -> dict:
    """The parameters papermill ran the notebook with (empty if there is none)."""
    executed = folder / f"{study}.ipynb"
    try:
        with open(executed, encoding="utf-8") as stream:
            notebook = json.load(stream)
    except (OSError, ValueError):
        return {}
    return dict(notebook.get("metadata", {}).get("papermill", {}).get("parameters") or {})


def _data_folder(folder: Path, parameters: dict, module, section) -> tuple[Path, str]:
    """The data folder the run read (figures open its images): ``context.json`` beside the
    records when the study wrote one, else the notebook's ``data_dir`` resolved as
    :func:`kerasbench.studies.base.start_study` does (the demo set when it was None)."""
    saved = folder / "context.json"
    if saved.is_file():
        try:
            context = json.loads(saved.read_text(encoding="utf-8"))
            return Path(context["data_dir"]), str(context.get("data_description", ""))
        except (ValueError, KeyError, TypeError):
            pass
    from kerasbench.data.sources import resolve_dataset

    demo = getattr(module, "make_demo_data", None)
    if parameters.get("data_dir") is None and demo is None:
        return folder, "the run's data"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            source = resolve_dataset(parameters.get("data_dir"), demo=demo)
        return Path(source.path), source.description
    except Exception as error:  # noqa: BLE001 - figures that need images may fail
        section.problems.append(("data", f"the run's data folder was not found ({error}); "
                                 "figures made from its images are left out", ""))
        return folder, "the run's data (folder not found)"


def _call(verb, records, context, parameters: dict):
    """``verb(records, context, **those notebook parameters it names)``; stdout captured."""
    named = {name for name, p in inspect.signature(verb).parameters.items()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - {"records", "context"}
    kwargs = {name: parameters[name] for name in named if name in parameters}
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return verb(records, context, **kwargs)


def _number(value) -> str:
    if isinstance(value, float):
        if value != value:
            return ""
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def frame_html(frame, max_rows: int = MAX_TABLE_ROWS) -> str:
    """A DataFrame as an HTML table, numbers to four significant digits."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(frame)
    shown = frame.head(max_rows)
    if isinstance(shown.columns, pd.MultiIndex):  # flat headers: "level1 level2"
        shown = shown.copy()
        shown.columns = [" ".join(str(part) for part in column if str(part))
                         for column in shown.columns]
    if not isinstance(shown.index, pd.RangeIndex) or shown.index.name is not None:
        # Index levels become the first columns (one header row, labels left-aligned).
        names = [name if name is not None else "" for name in shown.index.names]
        shown = shown.rename_axis([f"__level{i}" for i in range(len(names))]).reset_index()
        shown.columns = names + list(shown.columns[len(names):])
    html = shown.to_html(classes="data", border=0, na_rep="", float_format=_number,
                         index=False, escape=True)
    if len(frame) > max_rows:
        html += f"<p class='small'>first {max_rows} of {len(frame)} rows</p>"
    return html


def _embed(path) -> str | None:
    path = Path(path)
    if path.suffix.lower() != ".png" or not path.is_file():
        return None
    return base64.b64encode(path.read_bytes()).decode("ascii")


def build_study(study: str, folder: Path, profile: str, work_dir: Path) -> StudySection:
    """Read one study's records and rebuild its tables, figures and comparison."""
    from kerasbench.studies import STUDIES
    from kerasbench.studies.base import StudyContext

    info = STUDIES.get(study)
    section = StudySection(study=study, title=info.title if info else study, folder=folder)
    if (folder / f"{study}.ipynb").exists():
        section.notebook = str(folder / f"{study}.ipynb")
    records = _read_records(folder, section)
    section.records = len(records)
    if not records:
        section.status = "no records"
        return section
    if info is None:
        section.status = "failed"
        section.failure = f"{study!r} is not a registered study"
        section.problems.append(("study", section.failure, ""))
        return section
    parameters = _notebook_parameters(folder, study)
    section.demo = any(record.demo for record in records)
    try:
        module = info.module
    except Exception as error:  # noqa: BLE001 - the page says so
        section.status = "failed"
        section.failure = (f"kerasbench.studies.{study} could not be imported: "
                           f"{type(error).__name__}: {error}")
        section.problems.append(("import", section.failure, traceback.format_exc()))
        return section
    data_dir, description = _data_folder(folder, parameters, module, section)
    context = StudyContext(
        study=study, profile=profile, output_dir=work_dir / study, data_dir=data_dir,
        is_demo=section.demo, data_description=description,
        seed=int(parameters.get("seed", records[0].seed or 0) or 0))
    section.note = context.note

    def attempt(verb_name):
        verb = getattr(module, verb_name, None)
        if verb is None:
            section.problems.append((verb_name, f"the study has no {verb_name}()", ""))
            return None
        try:
            return _call(verb, records, context, parameters)
        except Exception as error:  # noqa: BLE001 - the page says so
            section.problems.append((verb_name, f"{type(error).__name__}: {error}",
                                     traceback.format_exc()))
            return None

    comparison = attempt("compare_with_paper")
    if comparison is not None:
        section.comparison = frame_html(comparison)
    for name, frame in (attempt("tables") or {}).items():
        section.tables.append((name, frame_html(frame)))
    for position, (name, path) in enumerate((attempt("figures") or {}).items()):
        encoded = _embed(path) if position < MAX_FIGURES else None
        if encoded is None:
            section.figures_left_out.append(f"{name} ({path})")
        else:
            section.figures.append((name, encoded))
    if comparison is None:
        section.status = "failed"
        section.failure = next((message for what, message, _ in section.problems
                                if what == "compare_with_paper"), "no comparison table")
    elif section.problems:
        section.status = "partial"
    return section


# --------------------------------------------------------------------------- the page

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>kerasbench report: {{ profile }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-top: 1em; }
.small { color: #666; font-size: 0.9em; }
.banner { background: #fff3cd; border: 1px solid #e0c36b; padding: 0.6em 1em; }
.failed { background: #fde2e1; border: 1px solid #e39a96; padding: 0.6em 1em; }
.status-ok { color: #17692e; } .status-failed { color: #a4261d; font-weight: bold; }
.status-partial { color: #8a5a00; } .status-no { color: #666; }
table.data { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.85em; }
table.data th, table.data td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
table.data th { background: #f3f3f3; }
table.data td:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; text-align: center; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
</style></head><body>
<h1>kerasbench report: profile <code>{{ profile }}</code></h1>
<p class="small">{{ results }} &middot; built {{ built }} by kerasbench {{ version }}
from the run records (tables and figures rebuilt by each study's verbs)</p>
{% if any_demo %}<p class="banner"><b>Demo data.</b> {{ demo_note }}</p>{% endif %}
<table class="data"><tr><th>study</th><th>status</th><th>records</th><th>data</th></tr>
{% for s in sections %}<tr><td style="text-align:left"><a href="#{{ s.study }}">{{ s.study }}</a></td>
<td class="status-{{ s.status.split()[0] }}">{{ s.status }}</td><td>{{ s.records }}</td>
<td style="text-align:left">{{ "demo" if s.demo else ("real" if s.records else "") }}</td></tr>
{% endfor %}</table>
{% for s in sections %}
<h2 id="{{ s.study }}">{{ s.study }}: {{ s.title }}</h2>
<p class="small">{{ s.records }} finished record(s){% if s.unfinished %}, {{ s.unfinished }}
unfinished left out{% endif %} &middot; {{ s.folder }}{% if s.notebook %} &middot; executed
notebook: {{ s.notebook }}{% endif %}</p>
{% if s.note %}<p class="{{ 'banner' if s.demo else 'small' }}">{{ s.note }}</p>{% endif %}
{% if s.status == "no records" %}<p>No finished run records: this study has not run under
this profile (<code>kerasbench run {{ s.study }} --profile {{ profile }}</code>).</p>{% endif %}
{% if s.status == "failed" %}<p class="failed">This study's report could not be built:
{{ s.failure or "unknown error" }}</p>{% endif %}
{% if s.comparison %}<h3>Paper vs this run</h3>{{ s.comparison | safe }}{% endif %}
{% if s.figures %}<h3>Figures</h3>{% for name, data in s.figures %}
<figure><img alt="{{ name }}" src="data:image/png;base64,{{ data }}"><figcaption>{{ name }}
</figcaption></figure>{% endfor %}{% endif %}
{% if s.figures_left_out %}<p class="small">Not embedded: {{ s.figures_left_out | join(", ") }}
</p>{% endif %}
{% if s.tables %}<h3>Tables</h3>{% for name, html in s.tables %}
<details><summary>{{ name }}</summary>{{ html | safe }}</details>{% endfor %}{% endif %}
{% if s.problems %}<h3>Problems</h3><ul>{% for what, message, trace in s.problems %}
<li><b>{{ what }}</b>: {{ message }}{% if trace %}<details><summary>traceback</summary>
<pre>{{ trace }}</pre></details>{% endif %}</li>{% endfor %}</ul>{% endif %}
{% endfor %}
</body></html>
"""


def render_page(profile: str, sections: list[StudySection], results: Path) -> str:
    import jinja2

    from kerasbench import __version__
    from kerasbench.reports import DEMO_NOTE

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(PAGE).render(
        profile=profile, sections=sections, results=str(results), version=__version__,
        built=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        any_demo=any(s.demo for s in sections), demo_note=DEMO_NOTE)


def write_reports(results: str | os.PathLike, output_dir: str | os.PathLike | None = None,
                  log=print) -> dict[str, tuple[Path, list[StudySection]]]:
    """Write ``<output_dir or the profile's folder>/report.html`` for every profile found
    under ``results``; returns ``{profile: (page, sections)}``."""
    from kerasbench.io import write_text_atomic

    os.environ.setdefault("MPLBACKEND", "Agg")
    results = Path(results).resolve()
    written = {}
    for profile, studies in find_profiles(results).items():
        profile_dir = next(iter(studies.values())).parent
        target = Path(output_dir).resolve() / profile if output_dir else profile_dir
        sections = []
        for study, folder in studies.items():
            log(f"[{profile}] {study}: reading records and rebuilding tables and figures")
            section = build_study(study, folder, profile, target / "report_files")
            log(f"[{profile}] {study}: {section.status} ({section.records} records"
                + (f"; {section.problems[0][0]}: {section.problems[0][1][:300]}"
                   if section.problems else "") + ")")
            sections.append(section)
        page = write_text_atomic(target / "report.html", render_page(profile, sections, results))
        written[profile] = (Path(page), sections)
    return written
