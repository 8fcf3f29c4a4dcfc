"""The FastAPI app behind the Airflow "Synthetic data" page.

Routes (under the plugin's ``/synthpipe`` prefix): ``/`` the page, ``/api/summary`` the same
as JSON, ``/datasets/{ref}/qa`` a dataset's QA report and ``/datasets/{ref}/validation`` its
validation report (or the summary kept on its record when the report file is gone). Inside
Airflow every route requires a signed-in user (the UI's session cookie or a bearer token),
like Airflow's own API.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from synthpipe.airflow.config import synthpipe_home
from synthpipe.airflow.summary import QA_HTML, VALIDATION_HTML, summary

if TYPE_CHECKING:
    from fastapi import FastAPI

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Synthetic data</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2933}
table{border-collapse:collapse;margin-bottom:2rem;width:100%}
th,td{border-bottom:1px solid #d9e2ec;padding:.35rem .6rem;text-align:left;font-size:.9rem}
th{background:#f0f4f8}.DONE,.passed{color:#18794e}.FAILED,.failed{color:#c62828}
.muted{color:#829ab1}.error{background:#ffebee;padding:.6rem;border-radius:4px}
</style></head><body>
<h1>Synthetic data</h1>
<p class="muted">Store: {{ data.home }}</p>
{% if error %}<p class="error">{{ error }}</p>{% endif %}
<h2>Generators ({{ data.generators|length }})</h2>
<table><tr><th>Name</th><th>Id</th><th>Kind</th><th>Status</th><th>Training rows</th>
<th>Size</th><th>Created</th><th>Datasets</th></tr>
{% for g in data.generators %}<tr><td>{{ g.name }}</td><td>{{ g.id }}</td><td>{{ g.kind }}</td>
<td class="{{ g.status }}" title="{{ g.error or '' }}">{{ g.status }}</td>
<td>{{ g.training_rows.values()|sum }}</td><td>{{ g.bytes|size }}</td>
<td>{{ g.created_at|when }}</td><td>{{ g.datasets }}</td></tr>
{% else %}<tr><td colspan="9" class="muted">No generators yet.</td></tr>{% endfor %}
</table>
<h2>Datasets ({{ data.datasets|length }})</h2>
<table><tr><th>Name</th><th>Id</th><th>Generator</th><th>Status</th><th>Rows</th><th>Size</th>
<th>Created</th><th>Validation</th><th>Accuracy</th><th>DCR share</th><th>Discriminator AUC</th>
<th>QA</th></tr>
{% for d in data.datasets %}<tr><td>{{ d.name }}</td><td>{{ d.id }}</td><td>{{ d.generator }}</td>
<td class="{{ d.status }}" title="{{ d.error or '' }}">{{ d.status }}</td>
<td title="{% for t, n in d.rows.items() %}{{ t }}: {{ n }} {% endfor %}">
{{ d.rows.values()|sum }}</td><td>{{ d.bytes|size }}</td><td>{{ d.created_at|when }}</td>
<td>{% if d.validation is none %}<span class="muted">not run</span>{% else %}
<a class="{{ 'passed' if d.validation else 'failed' }}" href="datasets/{{ d.id }}/validation">
{{ 'passed' if d.validation else 'failed' }}</a>{% endif %}
{% if d.forced_deliveries %} (forced){% endif %}</td>
<td>{{ d.qa.accuracy|pct }}</td><td>{{ d.qa.dcr_share|pct }}</td>
<td>{{ d.qa.discriminator_auc|num }}</td>
<td>{% if d.qa_report %}<a href="datasets/{{ d.id }}/qa">report</a>{% endif %}</td></tr>
{% else %}<tr><td colspan="12" class="muted">No datasets yet.</td></tr>{% endfor %}
</table></body></html>"""

VALIDATION = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Validation of {{ name }}</title></head>
<body style="font-family:system-ui,sans-serif;margin:1.5rem">
<p><a href="../../">Synthetic data</a></p>
<h1>Validation of {{ name }} ({{ id }}):
{{ 'passed' if result.get('success') else 'failed' }}</h1>
<pre>{{ result|tojson(indent=2) }}</pre></body></html>"""


def _filters() -> dict:
    def size(n: int) -> str:
        for unit in ("B", "KiB", "MiB", "GiB"):
            if n < 1024 or unit == "GiB":
                return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
            n /= 1024
        return str(n)

    return {
        "size": size,
        "when": lambda t: time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else "",
        "pct": lambda v: f"{v:.1%}" if isinstance(v, int | float) else "",
        "num": lambda v: f"{v:.3f}" if isinstance(v, int | float) else "",
    }


def create_app(home: str | Path | None = None, *, authenticate: bool = True) -> FastAPI:
    """The page's app, reading the store at ``home`` (default: the tasks' store).

    ``authenticate`` requires an Airflow user on every route; switch it off only for an app
    served outside Airflow's API server.
    """
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import FileResponse, HTMLResponse
    from jinja2 import Environment

    from synthpipe.errors import SynthpipeError
    from synthpipe.store import Store

    env = Environment(autoescape=True)
    env.filters.update(_filters())
    page, validation_page = env.from_string(PAGE), env.from_string(VALIDATION)
    dependencies = [Depends(_authenticated())] if authenticate else []
    app = FastAPI(title="synthpipe: synthetic data", dependencies=dependencies)

    def store() -> Store:
        return Store(synthpipe_home(home))

    def find(kind: str, ref: str):
        try:
            return store().generator(ref) if kind == "generator" else store().dataset(ref)
        except SynthpipeError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        try:
            listed = store()
            data = summary(listed)  # damaged records are skipped: say which
            return page.render(data=data, error="; ".join(listed.skipped.values()) or None)
        except SynthpipeError as exc:  # still serve the page
            empty = {"home": str(store().root), "generators": [], "datasets": []}
            return page.render(data=empty, error=str(exc))

    @app.get("/api/summary")
    def api_summary() -> dict:
        return summary(store())

    @app.get("/datasets/{ref}/qa")
    def dataset_qa(ref: str):
        return _report(store().dataset_dir(find("dataset", ref).id) / QA_HTML)

    @app.get("/datasets/{ref}/validation", response_class=HTMLResponse)
    def dataset_validation(ref: str):
        record = find("dataset", ref)
        if record.validation is None:
            raise HTTPException(404, f"dataset '{record.name}' has not been validated yet")
        report = store().dataset_dir(record.id) / VALIDATION_HTML
        if report.is_file():
            return FileResponse(report, media_type="text/html")
        result = json.loads(json.dumps(record.validation, default=str))
        return validation_page.render(name=record.name, id=record.id, result=result)

    def _report(path: Path):
        if not path.is_file():
            raise HTTPException(404, "no QA report has been written for it yet")
        return FileResponse(path, media_type="text/html")

    return app


def _authenticated():
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return requires_authenticated()
