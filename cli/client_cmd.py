"""``stylize submit`` and ``stylize jobs``: the HTTP client for a running Stylize API."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click
import requests

from cli.run_cmd import param_options
from shared.images import PNG, format_for_path
from shared.settings import get_settings

TERMINAL = {"succeeded", "failed", "canceled"}


class Client:
    """A thin client that turns problem+json answers into one-line ClickExceptions."""

    def __init__(self, url: str | None, key: str | None) -> None:
        settings = get_settings()
        self.url = (url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
        self.key = key or os.environ.get("STYLIZE_API_KEY")
        if not self.key:
            raise click.UsageError(
                "no API key: pass --key or set STYLIZE_API_KEY "
                "(create one with 'stylize keys create NAME')"
            )

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send a request; raise ClickException with the problem's detail on 4xx/5xx."""
        try:
            response = requests.request(
                method,
                self.url + path,
                timeout=60,
                headers={"Authorization": f"Bearer {self.key}"},
                **kwargs,
            )
        except requests.ConnectionError:
            raise click.ClickException(
                f"no Stylize API answers at {self.url}; start it with 'stylize up' or pass --url"
            ) from None
        if response.status_code >= 400:
            try:
                problem = response.json()
                message = problem.get("detail") or problem.get("title")
            except ValueError:
                message = response.text[:200]
            raise click.ClickException(f"HTTP {response.status_code}: {message}")
        return response


def client_options(command):  # type: ignore[no-untyped-def]
    """--url and --key on every client command."""
    command = click.option("--key", default=None, help="API key (default $STYLIZE_API_KEY).")(
        command
    )
    return click.option("--url", default=None, help="API base URL (default from settings).")(
        command
    )


def form_fields(options: dict[str, Any]) -> dict[str, str]:
    """Parameter options as the API's plain form fields."""
    fields = {}
    for name, value in options.items():
        if value is not None:
            fields[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return fields


def wait_for(client: Client, job_id: str) -> dict[str, Any]:
    """Poll the job with a progress bar until it ends; return its final body."""
    with click.progressbar(length=100, label=f"job {job_id[:8]}", show_eta=False) as bar:
        shown = 0
        while True:
            body = client.call("GET", f"/v1/jobs/{job_id}").json()
            percent = int(body["progress"]["percent"])
            bar.update(max(percent - shown, 0))
            shown = max(shown, percent)
            if body["status"] in TERMINAL:
                return body
            time.sleep(0.5)


def download(client: Client, job_id: str, output: Path) -> None:
    """Write the job's result to ``output``."""
    response = client.call("GET", f"/v1/jobs/{job_id}/result", stream=True)
    with output.open("wb") as handle:
        for chunk in response.iter_content(64 * 1024):
            handle.write(chunk)
    click.echo(f"wrote {output}", err=True)


@click.command()
@click.argument("content", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument(
    "styles", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--wait", is_flag=True, help="Follow progress until the job ends.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Download the result here (implies --wait); .png or .jpg.",
)
@click.option("--idempotency-key", default=None, help="Send this Idempotency-Key header.")
@client_options
@param_options
def submit(
    content: Path,
    styles: tuple[Path, ...],
    wait: bool,
    output: Path | None,
    idempotency_key: str | None,
    url: str | None,
    key: str | None,
    **params: Any,
) -> None:
    """Submit CONTENT styled by STYLES... as a job; print its id (and JSON with --wait)."""
    client = Client(url, key)
    fields = form_fields(params)
    if output is not None:
        fields["output_format"] = (format_for_path(output) or PNG).name
    files = [("content", (content.name, content.read_bytes()))]
    files += [("style", (style.name, style.read_bytes())) for style in styles]
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    job = client.call("POST", "/v1/jobs", data=fields, files=files, headers=headers).json()
    if not (wait or output):
        click.echo(job["id"])
        return
    final = wait_for(client, job["id"])
    click.echo(json.dumps(final))
    if final["status"] != "succeeded":
        error = final.get("error") or {}
        raise click.ClickException(f"job {final['status']}: {error.get('message', '')}".strip())
    if output is not None:
        download(client, job["id"], output)


@click.group()
def jobs() -> None:
    """List, show, cancel and download your jobs."""


@jobs.command("list")
@click.option("--status", default=None, help="Only jobs with this status.")
@click.option("--limit", default=20, show_default=True)
@client_options
def list_(status: str | None, limit: int, url: str | None, key: str | None) -> None:
    """Your jobs, newest first: id, status, progress, created."""
    params = {"limit": limit, **({"status": status} if status else {})}
    body = Client(url, key).call("GET", "/v1/jobs", params=params).json()
    for job in body["jobs"]:
        click.echo(
            f"{job['id']}  {job['status']:9}  {job['progress']['percent']:6.1f}%  "
            f"{job['timings']['created_at']}"
        )


@jobs.command()
@click.argument("job_id")
@client_options
def show(job_id: str, url: str | None, key: str | None) -> None:
    """The job as JSON."""
    click.echo(json.dumps(Client(url, key).call("GET", f"/v1/jobs/{job_id}").json(), indent=2))


@jobs.command()
@click.argument("job_id")
@client_options
def cancel(job_id: str, url: str | None, key: str | None) -> None:
    """Cancel the job; print its status afterwards."""
    click.echo(Client(url, key).call("POST", f"/v1/jobs/{job_id}/cancel").json()["status"])


@jobs.command("download")
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@client_options
def download_(job_id: str, output: Path, url: str | None, key: str | None) -> None:
    """Save the job's result image."""
    download(Client(url, key), job_id, output)
