"""``Client``: the Stylize HTTP API from Python, with retries, timeouts and typed results."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from client.errors import ApiError, ApiUnreachable, WaitTimeout
from client.models import TERMINAL_STATUSES, Job, JobPage, Progress
from client.sse import sse_events

ImageInput = str | Path | bytes | IO[bytes]
JobRef = Job | str
ProgressCallback = Callable[[Progress], None]

# The server sends a keepalive every 15 s; a stream silent for longer than this is dead.
STREAM_READ_TIMEOUT_S = 45.0
# A stream lasts minutes (STYLIZE_EVENTS_MAX_S); reconnecting this often covers days.
MAX_RECONNECTS = 1000


def session(api_key: str, retry: Retry) -> requests.Session:
    """An HTTP session that sends the key and retries as ``retry`` says."""
    http = requests.Session()
    http.headers.update({"Authorization": f"Bearer {api_key}", "User-Agent": "stylize-client/1"})
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


class Client:
    """A Stylize API at ``base_url`` used with ``api_key``.

    Connection errors, 429 (after its ``Retry-After``) and 503 are retried ``retries`` times
    with exponential backoff (``backoff`` * 2^n s); every submit carries an Idempotency-Key, so a
    retried submit never makes two jobs. Each request gives up after ``timeout`` seconds of
    silence. Problem answers raise ApiError; an API that never answers raises ApiUnreachable.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        refused_again = Retry(
            total=retries,
            connect=retries,
            read=0,  # a request that was sent may have acted: only retry what the server refused
            status=retries,
            status_forcelist=(429, 503),
            allowed_methods=None,  # POSTs too: a 429/503 did nothing, submits are idempotent
            backoff_factor=backoff,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self._http = session(api_key, refused_again)
        # An event stream the server refuses (503: live events are down; 429: the key holds
        # all its streams) is not asked for again: the job is polled instead, at once.
        self._stream_http = session(api_key, refused_again.new(status=0))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection pools."""
        self._http.close()
        self._stream_http.close()

    # -- requests -------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, http: requests.Session | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send with retries; ApiError for a problem answer, ApiUnreachable for no answer."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = (http or self._http).request(method, self.base_url + path, **kwargs)
        except requests.RequestException as exc:
            reason = type(exc.__context__ or exc).__name__
            raise ApiUnreachable(
                f"no answer from the Stylize API at {self.base_url} ({reason}); "
                "is it running, and is the URL right?"
            ) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise ApiError.from_response(response.status_code, body, response.text)
        return response

    # -- jobs -----------------------------------------------------------------------------

    def submit(
        self,
        content: ImageInput,
        styles: ImageInput | Sequence[ImageInput],
        *,
        idempotency_key: str | None = None,
        wait: int | None = None,
        **params: Any,
    ) -> Job:
        """Queue a job: ``content`` styled by ``styles`` with the given job parameters.

        With ``wait``, the server answers once the job ended or after ``wait`` seconds
        (``Prefer: wait``, capped by the server), whichever is first.
        """
        files = [("content", image_part(content, "content"))]
        files += [
            ("style", image_part(style, f"style-{n}"))
            for n, style in enumerate(
                [styles] if is_one_image(styles) else list(styles),  # type: ignore[arg-type]
                start=1,
            )
        ]
        given = {name: value for name, value in params.items() if value is not None}
        response = self._request(
            "POST",
            "/v1/jobs",
            files=files,
            data={"params": json.dumps(given)},
            headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4()), **prefer(wait)},
            timeout=self._timeout_for(wait),
        )
        return Job.model_validate(response.json())

    def get(self, job: JobRef, *, wait: int | None = None) -> Job:
        """The job now: status, progress, timings, error; with ``wait``, once it ended or after
        ``wait`` seconds, whichever is first."""
        response = self._request(
            "GET", f"/v1/jobs/{job_id(job)}", headers=prefer(wait), timeout=self._timeout_for(wait)
        )
        return Job.model_validate(response.json())

    def delete(self, job: JobRef) -> None:
        """Delete the job and its images (a running job is canceled first)."""
        self._request("DELETE", f"/v1/jobs/{job_id(job)}")

    def _timeout_for(self, wait: int | None) -> float | tuple[float, float]:
        """Connect within the usual timeout; read for as long as the server may wait too."""
        return self.timeout if not wait else (self.timeout, self.timeout + wait)

    def list(
        self, *, status: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> JobPage:
        """Your jobs, newest first; pass the page's ``next_cursor`` for the next page."""
        query: dict[str, Any] = {"limit": limit}
        if status:
            query["status"] = status
        if cursor:
            query["cursor"] = cursor
        return JobPage.model_validate(self._request("GET", "/v1/jobs", params=query).json())

    def cancel(self, job: JobRef) -> Job:
        """Cancel: a queued job at once, a running one within an iteration (status follows)."""
        return Job.model_validate(self._request("POST", f"/v1/jobs/{job_id(job)}/cancel").json())

    def download(self, job: JobRef, path: str | Path | None = None) -> bytes | Path:
        """The result image: written to ``path`` (returned), or its bytes when no path."""
        response = self._request("GET", f"/v1/jobs/{job_id(job)}/result", stream=True)
        with response:
            if path is None:
                return response.content
            target = Path(path)
            with target.open("wb") as out:
                for chunk in response.iter_content(64 * 1024):
                    out.write(chunk)
            return target

    def preview(self, job: JobRef) -> bytes:
        """The latest preview image (PNG)."""
        return self._request("GET", f"/v1/jobs/{job_id(job)}/preview").content

    # -- waiting --------------------------------------------------------------------------

    def wait(
        self,
        job: JobRef,
        on_progress: ProgressCallback | None = None,
        *,
        timeout: float | None = None,
        poll_interval: float = 1.0,
    ) -> Job:
        """Follow the job until it ends and return it; ``on_progress`` gets each Progress.

        Follows the live event stream (SSE); if that is unavailable or breaks, polls every
        ``poll_interval`` seconds. WaitTimeout after ``timeout`` seconds (the job goes on).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            ended = self._follow_events(job_id(job), on_progress, deadline)
        except (ApiError, ApiUnreachable, requests.RequestException, ValueError):
            ended = None  # no stream (Redis down, proxy, dropped): polling still works
        return ended or self._poll(job_id(job), on_progress, deadline, poll_interval)

    def _follow_events(
        self, ident: str, on_progress: ProgressCallback | None, deadline: float | None
    ) -> Job | None:
        """The job once its stream reports the end; the stream is reopened with Last-Event-ID
        when the server closes it early (streams have a longest life). None if it breaks."""
        shown = -1
        last_id: str | None = None
        for _ in range(MAX_RECONNECTS):
            headers = {"Accept": "text/event-stream"}
            if last_id is not None:
                headers["Last-Event-ID"] = last_id
            response = self._request(
                "GET",
                f"/v1/jobs/{ident}/events",
                http=self._stream_http,
                stream=True,
                timeout=(self.timeout, STREAM_READ_TIMEOUT_S),
                headers=headers,
            )
            with response:
                lines = until(deadline, response.iter_lines(decode_unicode=True))
                for event in sse_events(lines):
                    last_id = event.last_id
                    if event.kind == "progress" and on_progress is not None:
                        progress = Progress.model_validate(event.data)
                        shown = progress.iteration
                        on_progress(progress)
                    elif event.kind == "status" and event.data.get("status") in TERMINAL_STATUSES:
                        ended = Job.model_validate(event.data)
                        if on_progress is not None and ended.progress.iteration > shown:
                            on_progress(ended.progress)  # the last word, if not said yet
                        return ended
        return None

    def _poll(
        self,
        ident: str,
        on_progress: ProgressCallback | None,
        deadline: float | None,
        interval: float,
    ) -> Job:
        shown = -1
        while True:
            current = self.get(ident)
            if on_progress is not None and current.progress.iteration > shown:
                shown = current.progress.iteration
                on_progress(current.progress)
            if current.done:
                return current
            if deadline is not None and time.monotonic() + interval > deadline:
                raise WaitTimeout(f"job {ident} is still {current.status}; it goes on")
            time.sleep(interval)


def until(deadline: float | None, lines: Iterator[str]) -> Iterator[str]:
    """``lines``, raising WaitTimeout once ``deadline`` passes (checked at each line)."""
    for line in lines:
        if deadline is not None and time.monotonic() > deadline:
            raise WaitTimeout("the job did not end in time; it goes on")
        yield line


def prefer(wait: int | None) -> dict[str, str]:
    """The ``Prefer: wait=N`` header, or none."""
    return {"Prefer": f"wait={int(wait)}"} if wait else {}


def job_id(job: JobRef) -> str:
    """The id of a Job or of an id string."""
    return job.id if isinstance(job, Job) else str(job)


def is_one_image(value: object) -> bool:
    """True for a single path, bytes or open file (as opposed to a sequence of them)."""
    return isinstance(value, str | Path | bytes) or hasattr(value, "read")


def image_part(image: ImageInput, name: str) -> tuple[str, bytes | IO[bytes]]:
    """A multipart file part: (file name, data) from a path, bytes or an open binary file."""
    if isinstance(image, str | Path):
        path = Path(image)
        return path.name, path.read_bytes()
    if isinstance(image, bytes):
        return name, image
    return Path(getattr(image, "name", name)).name, image
