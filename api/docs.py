"""/openapi.json and /docs: a self-contained page (no CDN) rendered from the spec."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template_string

from api.openapi import openapi_document

bp = Blueprint("docs", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stylize API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;
text-align:left;vertical-align:top}code{background:#f4f4f4;padding:0 .2rem}</style></head>
<body><h1>Stylize API</h1><p>{{ spec.info.description }} Send
<code>Authorization: Bearer &lt;key&gt;</code>; errors are <code>application/problem+json</code>.
The machine-readable spec is at <a href="/openapi.json">/openapi.json</a>.</p>
<h2>Endpoints</h2><table><tr><th>method</th><th>path</th><th>does</th></tr>
{% for path, ops in spec.paths.items() %}{% for method, op in ops.items() %}
<tr><td>{{ method|upper }}</td><td><code>{{ path }}</code></td><td>{{ op.summary }}</td></tr>
{% endfor %}{% endfor %}</table>
<h2>Job parameters</h2><table><tr><th>name</th><th>default</th><th>allowed</th><th>meaning</th></tr>
{% for name, field in params.properties.items() %}
<tr><td><code>{{ name }}</code></td><td>{{ field.get('default') }}</td>
<td>{{ allowed(field) }}</td><td>{{ field.get('description', '') }}</td></tr>
{% endfor %}</table>
<h2>Failure codes</h2><p>The <code>error.code</code> of a failed job:</p>
<table><tr><th>code</th><th>meaning</th></tr>
{% for code in failure_codes %}
<tr><td><code>{{ code.const }}</code></td><td>{{ code.description }}</td></tr>
{% endfor %}</table></body></html>"""


def allowed(field: dict) -> str:
    """A short human description of a schema's allowed values."""
    if "enum" in field:
        return " | ".join(map(str, field["enum"]))
    if "anyOf" in field:
        return " or ".join(allowed(option) for option in field["anyOf"])
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
    return ", ".join([field.get("type", ""), *bounds]).strip(", ")


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
    )
