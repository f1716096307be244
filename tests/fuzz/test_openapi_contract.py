"""The API fuzzed from its own /openapi.json with schemathesis: every operation with generated
requests, then stateful runs that follow the submit response's links to the job's routes.

All checks run: no 5xx, only documented status codes and media types, responses that match
their schemas, schema-valid requests accepted and invalid ones refused, auth enforced.

The submission's cross-field rules (the parameters' ``allOf`` of if/then: levels and sizes,
precision and optimizer, iterations by size, one weight per style layer; and the body's
``anyOf``: one blend weight per style image) are more than schemathesis's generator can combine
("does not support this part of it"), and its negative mutations of one branch of an ``anyOf``
give requests that another branch still allows. Requests are generated from the served
document without these rules, and ``cross_field_rules`` judges each submit by them instead: one
that keeps every rule must be accepted, one that breaks any must get a 422. The rules are so
tested both ways.
"""

from __future__ import annotations

import copy
import io
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from flask import Flask, jsonify
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from PIL import Image
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from werkzeug.serving import make_server

from api import create_app
from api.openapi import openapi_document
from migrations import upgrade
from shared.api_keys import create_key
from shared.db import job_store
from shared.db.job import JobStatus
from shared.db.session import session_factory
from shared.images import OUTPUT_FORMATS, PREVIEW_FORMAT, encode_image
from shared.job_end import end_job, run_is
from shared.job_moves import claim_job
from shared.params import WEBHOOK_URL_PATTERN, JobParams
from shared.progress_channel import ProgressChannel
from shared.settings import Settings
from shared.storage import open_storage
from shared.storage.keys import preview_key, result_key

REDIS_URL = "redis://127.0.0.1:6379/12"  # rate counters and event keys expire by themselves
EXAMPLES_PER_OPERATION = 25
STATEFUL_RUNS = 15
PINNED_WEBHOOK = "http://127.0.0.1:9/hook"  # allowed by the fuzz app's STYLIZE_WEBHOOK_ALLOW
SPEC = openapi_document(max_styles=4)
PARAMS_SCHEMA = "urn:stylize:openapi#/components/schemas/JobParams"
WHOLE_PARAMS = Draft202012Validator(
    {"$ref": PARAMS_SCHEMA},
    registry=Registry().with_resource(
        "urn:stylize:openapi", Resource(contents=SPEC, specification=DRAFT202012)
    ),
)


def without_cross_field_rules(spec: dict) -> dict:
    """The document to generate from: the parameters' ``allOf`` and the body's ``anyOf`` left
    out."""
    spec = copy.deepcopy(spec)
    spec["components"]["schemas"]["JobParams"].pop("allOf")
    submit = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    submit["multipart/form-data"]["schema"].pop("anyOf")
    return spec


def broken_rules(body: dict) -> list[str]:
    """The cross-field rules a generated submission breaks."""
    params = body.get("params", {})
    broken = [error.message for error in WHOLE_PARAMS.iter_errors(params)]
    blend, styles = params.get("style_blend"), body.get("style")
    if isinstance(blend, list) and isinstance(styles, list) and len(blend) != len(styles):
        broken.append(f"{len(blend)} style_blend weights for {len(styles)} style images")
    return broken


def cross_field_rules(ctx: object, response: object, case: schemathesis.Case) -> None:
    """A generated submit judged by the whole document: kept every rule -> accepted (the
    positive check's verdict); broke one -> a 422 naming it."""
    body = case.body
    if (
        case.operation.label != "POST /v1/jobs"
        or not isinstance(body, dict)
        or not isinstance(body.get("params", {}), dict)
    ):
        return positive_data_acceptance(ctx, response, case)
    broken = broken_rules(body)
    if not broken:
        return positive_data_acceptance(ctx, response, case)
    if case.meta.generation.mode.is_positive and response.status_code != 422:
        raise AssertionError(
            f"params that break a rule of the schema ({broken[0]}) were answered "
            f"{response.status_code}, not 422"
        )
    return None


def pin_webhook(case: schemathesis.Case) -> None:
    """Point a generated, schema-valid ``webhook_url`` at an allowed loopback address: whether
    such a URL is accepted depends on its host resolving now, which no schema can state (the
    webhook tests cover refused and unresolvable hosts). Invalid ones stay, to be refused."""
    params = case.body.get("params") if isinstance(case.body, dict) else None
    url = params.get("webhook_url") if isinstance(params, dict) else None
    if isinstance(url, str) and re.fullmatch(WEBHOOK_URL_PATTERN, url):
        assert isinstance(params, dict)
        # changed in place: assigning case.body makes schemathesis re-judge the whole body
        # against the schema, and it judged such bodies invalid (then "accepted" is a failure)
        params["webhook_url"] = PINNED_WEBHOOK


def small_image(fmt: str) -> st.SearchStrategy[bytes]:
    """Real, small images of one format (an API that decodes every upload needs real ones)."""

    def encode(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", size, colour).save(buffer, format=fmt)
        return buffer.getvalue()

    sizes = st.tuples(st.integers(1, 48), st.integers(1, 48))
    colours = st.tuples(*[st.integers(0, 255)] * 3)
    return st.builds(encode, sizes, colours)


# Every binary field of this API is an image: generate real ones, in each accepted format.
schemathesis.openapi.format(
    "binary", st.one_of([small_image(fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")])
)


class InstantWorker:
    """Stands in for the broker and a worker: each sent job ends ``succeeded`` at once, with a
    result and a preview, so the result, preview and events routes have real objects to serve
    (and an event stream ends instead of waiting for a worker)."""

    def __init__(self, settings: Settings) -> None:
        self.sessions = session_factory(settings.database_url)
        self.storage = open_storage(settings)
        self.channel = ProgressChannel.from_url(settings.broker_url)

    def __call__(self, job_id: str, attempt: int, params: JobParams) -> None:
        job = uuid.UUID(job_id)
        pixels = np.full((8, 8, 3), 120, dtype=np.uint8)
        output = OUTPUT_FORMATS[params.output_format]
        result = result_key(job, output.extension, attempt)
        self.storage.put(result, encode_image(pixels, output.name))
        self.storage.put(preview_key(job, PREVIEW_FORMAT.extension), encode_image(pixels))
        with self.sessions() as session:
            assert claim_job(session, job, "instant", attempt)
            preview = preview_key(job, PREVIEW_FORMAT.extension)
            job_store.set_preview(session, job, attempt, preview, 100)
            end_job(
                session,
                job,
                JobStatus.SUCCEEDED,
                only_if=run_is(attempt),
                channel=self.channel,
                result_key=result,
            )


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'stylize.db'}",
        storage_url=f"file://{tmp / 'storage'}",
        broker_url=REDIS_URL,
        rate_limit_per_minute=1_000_000,  # the fuzzer sends thousands of requests a minute
        max_active_jobs_per_key=1_000_000,
        webhook_allow="127.0.0.1",
        max_wait_s=2,  # Prefer: wait=N of generated requests
    )
    upgrade(settings.database_url)
    with session_factory(settings.database_url)() as session:
        _, secret = create_key(session, "fuzzer", admin=True)
    app = create_app(settings, task_sender=InstantWorker(settings))
    app.config["FUZZ_HEADERS"] = {"Authorization": f"Bearer {secret}"}
    generated_from = without_cross_field_rules(openapi_document(settings.max_styles))
    app.add_url_rule("/fuzz/openapi.json", "fuzz_openapi", lambda: jsonify(generated_from))
    server = make_server("127.0.0.1", 0, app, threaded=True)  # served on loopback only
    app.config["FUZZ_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app
    server.shutdown()
    thread.join()


def generation_schema(fuzz_app: Flask) -> schemathesis.BaseSchema:
    """The app's own /openapi.json less the cross-field rules, served over HTTP on 127.0.0.1,
    with ``cross_field_rules`` in place of the positive check.

    (Loaded in-process with ``from_wsgi``, schemathesis 4.32 generated bodies that break the
    schema they claim to follow, e.g. ``style`` as a number: over HTTP it does not.)
    """
    schema = schemathesis.openapi.from_url(f"{fuzz_app.config['FUZZ_BASE_URL']}/fuzz/openapi.json")
    schema.config.checks.update(excluded_check_names=["positive_data_acceptance"])
    return schema


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Flask) -> schemathesis.BaseSchema:
    return generation_schema(fuzz_app)


CASES = [
    pytest.param(method.upper(), path, mode, id=f"{mode.value}-{method.upper()} {path}")
    for path, methods in SPEC["paths"].items()
    for method, operation in methods.items()
    for mode in GenerationMode
    # an operation with no input has no invalid request to make
    if mode is GenerationMode.POSITIVE or "parameters" in operation or "security" in operation
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_every_operation_keeps_its_contract(
    fuzz_app: Flask,
    api_schema: schemathesis.BaseSchema,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same cases every run: a CI failure can be replayed
    )
    def keeps_contract(case: schemathesis.Case) -> None:
        pin_webhook(case)
        case.call_and_validate(
            headers=fuzz_app.config["FUZZ_HEADERS"],
            additional_checks=[cross_field_rules],
            excluded_checks=[positive_data_acceptance],
        )

    keeps_contract()


def test_links_reach_every_job_route(fuzz_app: Flask) -> None:
    """Stateful: submit, then follow the links to the job's routes (get, result, preview,
    events, cancel, delete, deliveries).

    Valid requests only: invalid ones are the per-operation test's, and schemathesis's
    negative mutations of the schema's if/then rules (``scales``, ``precision``) produce
    requests that are still valid, which it then reports as wrongly accepted.
    """
    schema = generation_schema(fuzz_app)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    # Only the links the API declares (submit -> the job's routes): links schemathesis infers
    # from the job list point at whichever job is listed first, which changes as jobs are made,
    # and hypothesis stops on rules whose availability changes between its runs.
    schema.config.phases.stateful.inference.algorithms = []
    machine = schema.as_state_machine()
    headers = fuzz_app.config["FUZZ_HEADERS"]
    reached: set[str] = set()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict:
            pin_webhook(case)
            if "Idempotency-Key" in (case.headers or {}):
                # a fresh key: hypothesis re-walks earlier steps, and a key the server has seen
                # answers with the first job (or a conflict) instead of a new one
                return {"headers": {**headers, "Idempotency-Key": str(uuid.uuid4())}}
            return {"headers": headers}

        def after_call(self, response: object, case: schemathesis.Case) -> None:
            reached.add(case.operation.label)

        def validate_response(
            self, response: object, case: schemathesis.Case, **kwargs: object
        ) -> None:
            super().validate_response(response, case, additional_checks=[cross_field_rules])

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_RUNS,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],  # the server's state changes: a replay is not the same run
        )
    )
    job_routes = {
        f"{method} /v1/jobs/{{job_id}}{tail}"
        for method, tail in (
            ("GET", ""),
            ("GET", "/result"),
            ("GET", "/preview"),
            ("GET", "/events"),
            ("POST", "/cancel"),
            ("DELETE", ""),
            ("GET", "/deliveries"),
        )
    }
    assert job_routes <= reached, f"never reached: {sorted(job_routes - reached)}"
