"""``stylize submit`` and ``stylize jobs``: a thin layer over the Python client (``client/``).

Every error the client raises becomes one readable line on stderr and exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cli.run_cmd import given_params, param_options
from client import Client, Job, Progress, StylizeError
from shared.images import PNG, format_for_path
from shared.settings import get_settings


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn client errors (problem answers, no answer, timeouts) into one ClickException line."""
    try:
        yield
    except StylizeError as exc:
        raise click.ClickException(str(exc)) from None


def make_client(url: str | None, key: str | None) -> Client:
    """A client for ``--url`` (default: the configured API) with ``--key``/STYLIZE_API_KEY."""
    key = key or os.environ.get("STYLIZE_API_KEY")
    if not key:
        raise click.UsageError(
            "no API key: pass --key or set STYLIZE_API_KEY "
            "(create one with 'stylize keys create NAME')"
        )
    if url is None:
        settings = get_settings()
        url = f"http://{settings.api_host}:{settings.api_port}"
    return Client(url, key)


def client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--url and --key on every client command."""
    command = click.option("--key", default=None, help="API key (default $STYLIZE_API_KEY).")(
        command
    )
    return click.option("--url", default=None, help="API base URL (default from settings).")(
        command
    )


def eta_text(progress: Progress) -> str:
    """``ETA 12 s`` from the server's estimate, or ``ETA unknown``."""
    return f"ETA {progress.eta_s:.0f} s" if progress.eta_s is not None else "ETA unknown"


class ProgressDisplay:
    """A progress bar on a terminal; without one, a line per 10 % on stderr."""

    def __init__(self, job_id: str) -> None:
        self.label = f"job {job_id[:8]}"
        self.tenths = -1
        self.bar: Any = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=100, desc=self.label, unit="%", bar_format="{l_bar}{bar}| {postfix}"
            )

    def __call__(self, progress: Progress) -> None:
        if self.bar is not None:
            self.bar.n = min(progress.percent, 100.0)
            self.bar.set_postfix_str(
                f"iteration {progress.iteration}/{progress.total}, {eta_text(progress)}"
            )
            return
        tenths = int(progress.percent // 10)
        if tenths > self.tenths:
            self.tenths = tenths
            click.echo(
                f"{self.label}: {progress.percent:.0f} % (iteration {progress.iteration}/"
                f"{progress.total}, {eta_text(progress)})",
                err=True,
            )

    def close(self) -> None:
        """End the bar's line."""
        if self.bar is not None:
            self.bar.close()


def follow(client: Client, job: Job) -> Job:
    """Wait for ``job`` with a progress display; on Ctrl-C ask whether to cancel it."""
    display = ProgressDisplay(job.id)
    try:
        return client.wait(job, on_progress=display)
    except KeyboardInterrupt:
        display.close()
        try:
            cancel = click.confirm(f"\nCancel job {job.id}?", default=False, err=True)
        except click.Abort:  # no answer (Ctrl-C again, or stdin closed): leave it running
            cancel = False
        if cancel:
            status = client.cancel(job).status
            click.echo(f"job {job.id}: cancel sent ({status})", err=True)
        else:
            click.echo(f"job {job.id} goes on; see it with: stylize jobs show {job.id}", err=True)
        sys.exit(130)
    finally:
        display.close()


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
@param_options(frozenset({"output_format"}))
def submit(
    content: Path,
    styles: tuple[Path, ...],
    wait: bool,
    output: Path | None,
    idempotency_key: str | None,
    url: str | None,
    key: str | None,
    **options: Any,
) -> None:
    """Submit CONTENT styled by STYLES... as a job; print its id (and JSON with --wait)."""
    params = given_params(options)
    if output is not None:
        params["output_format"] = (format_for_path(output) or PNG).name
    with one_line_errors(), make_client(url, key) as client:
        job = client.submit(content, list(styles), idempotency_key=idempotency_key, **params)
        if not (wait or output):
            click.echo(job.id)
            return
        final = follow(client, job)
        click.echo(json.dumps(final.model_dump(mode="json")))
        if final.status != "succeeded":
            reason = final.error.message if final.error else ""
            raise click.ClickException(f"job {final.status}: {reason}".strip(": "))
        if output is not None:
            client.download(final, output)
            click.echo(f"wrote {output}", err=True)


@click.group()
def jobs() -> None:
    """List, show, cancel and download your jobs."""


@jobs.command("list")
@click.option("--status", default=None, help="Only jobs with this status.")
@click.option("--limit", default=20, show_default=True)
@client_options
def list_(status: str | None, limit: int, url: str | None, key: str | None) -> None:
    """Your jobs, newest first: id, status, progress, created."""
    with one_line_errors(), make_client(url, key) as client:
        page = client.list(status=status, limit=limit)
    for job in page.jobs:
        click.echo(
            f"{job.id}  {job.status:9}  {job.progress.percent:6.1f}%  {job.timings.created_at}"
        )


@jobs.command()
@click.argument("job_id")
@client_options
def show(job_id: str, url: str | None, key: str | None) -> None:
    """The job as JSON."""
    with one_line_errors(), make_client(url, key) as client:
        click.echo(json.dumps(client.get(job_id).model_dump(mode="json"), indent=2))


@jobs.command()
@click.argument("job_id")
@client_options
def cancel(job_id: str, url: str | None, key: str | None) -> None:
    """Cancel the job; print its status afterwards."""
    with one_line_errors(), make_client(url, key) as client:
        click.echo(client.cancel(job_id).status)


@jobs.command("download")
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@client_options
def download_(job_id: str, output: Path, url: str | None, key: str | None) -> None:
    """Save the job's result image."""
    with one_line_errors(), make_client(url, key) as client:
        client.download(job_id, output)
    click.echo(f"wrote {output}", err=True)
