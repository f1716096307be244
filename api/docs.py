"""The API describing itself: the ``/v1`` index, ``/openapi.json`` and ``/docs``.

``/docs`` is a self-contained page (no script, no CDN) rendered from the spec.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template_string, request

from api.openapi import openapi_document
from shared.webhooks.signing import VERIFY_SNIPPET

bp = Blueprint("docs", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stylize API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/docs.css"></head>
<body><h1>Stylize API</h1><p>{{ spec.info.description }} There is also a
<a href="/">web page</a> for people, and the machine-readable spec at
<a href="/openapi.json">/openapi.json</a>.</p>
<h2>Start here</h2>
<p>1. Get a key: on the server, <code>stylize keys create NAME</code> prints the API key alone
on its last line (and, once, the key's webhook signing secret above it). Send it on every
<code>/v1</code> request as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<p>2. Submit a job (copy, put your key and two pictures in):</p>
<pre>KEY=sty_...
curl -s -H "Authorization: Bearer $KEY" -F content=@photo.jpg -F style=@painting.jpg \\
     -F iterations=100 {{ base }}/v1/jobs</pre>
<p>3. Follow <code>links.self</code> of the answer (or its <code>links.events</code> stream)
until <code>status</code> is <code>succeeded</code>, then fetch <code>links.result</code>.
Errors are <code>application/problem+json</code> with an <code>errors</code> list naming each
bad field.</p>
<h2>Endpoints</h2><table><tr><th>method</th><th>path</th><th>does</th></tr>
{% for path, ops in spec.paths.items() %}{% for method, op in ops.items() %}
<tr><td>{{ method|upper }}</td><td><code>{{ path }}</code></td><td>{{ op.summary }}</td></tr>
{% endfor %}{% endfor %}</table>
<h2>Job parameters</h2><p>Send them as form fields or as one <code>params</code> JSON field.
Defaults are shown as JSON; <code>null</code> means unset.</p>
<table><tr><th>name</th><th>default</th><th>allowed</th><th>meaning</th></tr>
{% for name, field in params.properties.items() %}
<tr><td><code>{{ name }}</code></td><td><code>{{ default(field) }}</code></td>
<td>{{ allowed(field) }}</td><td>{{ field.get('description', '') }}</td></tr>
{% endfor %}</table>
<h2>Waiting for the end</h2><p>Send <code>Prefer: wait=N</code> with a submit or a
<code>GET /v1/jobs/&lt;id&gt;</code> to get the answer when the job ends, or after N seconds
(at most {{ max_wait }}), whichever comes first; <code>Preference-Applied</code> says it was
honoured. A submit that ended within the wait answers 201, one still running 202.</p>
<h2>Webhooks</h2><p>With <code>webhook_url</code>, each event of <code>webhook_events</code>
is POSTed as <a href="https://www.standardwebhooks.com/">Standard Webhooks</a>:
the body is <code>{"type": "job.running" | "job.progress" | "job.completed", "timestamp",
"data": the job}</code>, the headers <code>webhook-id</code> (the same on every retry),
<code>webhook-timestamp</code> and <code>webhook-signature</code> (<code>v1,</code> base64
HMAC-SHA256 of <code>id.timestamp.body</code> under the key's <code>whsec_</code> secret; after
<code>POST /v1/webhook-secret</code> rotates it, both secrets sign for a while). Answer 2xx;
5xx, 408, 429 and no answer are retried with exponential backoff for up to an hour. Each job's
deliveries and their attempts are at <code>/v1/jobs/&lt;id&gt;/deliveries</code>, and a
delivery can be sent again (<code>POST …/deliveries/&lt;delivery id&gt;/resend</code>).
Verify a delivery in Python with the <code>standardwebhooks</code> package (there is one for
most languages):</p>
<pre>{{ verify_snippet }}</pre>
<h2>Failure codes</h2><p>The <code>error.code</code> of a failed job:</p>
<table><tr><th>code</th><th>meaning</th></tr>
{% for code in failure_codes %}
<tr><td><code>{{ code.const }}</code></td><td>{{ code.description }}</td></tr>
{% endfor %}</table></body></html>"""


def default(field: dict[str, Any]) -> str:
    """A parameter's default as JSON, or ``by max_size`` for one that depends on the size."""
    return json.dumps(field["default"]) if "default" in field else "by max_size"


def allowed(field: dict[str, Any]) -> str:
    """A short human description of a schema's allowed values."""
    if "enum" in field:
        return " | ".join(map(str, field["enum"]))
    if "anyOf" in field:
        return " or ".join(allowed(option) for option in field["anyOf"])
    if field.get("type") == "array" and "items" in field:
        return f"list of {allowed(field['items'])}"
    bounds = [
        f"{label} {field[key]}"
        for key, label in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if key in field
    ]
    kind = field.get("format") or field.get("type", "")
    return ", ".join([kind, *bounds]).strip(", ")


@bp.get("/v1")
def index() -> Response:
    """Where everything is: the docs, the spec, the jobs collection and the web page."""
    return jsonify(
        {
            "name": "Stylize",
            "description": openapi_document(current_app.config["STYLIZE"].max_styles)["info"][
                "description"
            ],
            "links": {
                "docs": "/docs",
                "openapi": "/openapi.json",
                "jobs": "/v1/jobs",
                "web": "/",
            },
            "auth": "Authorization: Bearer <key>; create a key with 'stylize keys create NAME'",
        }
    )


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 spec."""
    return jsonify(openapi_document(current_app.config["STYLIZE"].max_styles))


@bp.get("/docs")
def docs() -> str:
    """A readable page generated from the spec."""
    spec = openapi_document(current_app.config["STYLIZE"].max_styles)
    schemas = spec["components"]["schemas"]
    return render_template_string(
        PAGE,
        spec=spec,
        params=schemas["JobParams"],
        failure_codes=schemas["JobError"]["properties"]["code"]["oneOf"],
        allowed=allowed,
        default=default,
        base=request.host_url.rstrip("/"),
        verify_snippet=VERIFY_SNIPPET,
        max_wait=current_app.config["STYLIZE"].max_wait_s,
    )
