"""/metrics (Prometheus) and the request id every log line of a request carries."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from siyu import logs
from siyu.claims import service as claims
from siyu.jobs.service import enqueue
from siyu.kit import metrics
from tests.support import factories

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


def _delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_scrape_counts_requests_by_route_template_and_status_class(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    auth = {"Authorization": f"Bearer {await factories.api_key(session, login.principal, ['members.read'])}"}
    member = await factories.member(session, tenant.id)
    before = await _scrape(client)

    for _ in range(3):
        assert (await client.get(f"/api/v1/members/{member.id}", headers=auth)).status_code == 200
    assert (await client.get("/api/v1/members/999999999", headers=auth)).status_code == 404
    assert (await client.get("/no/such/page/12345")).status_code == 404

    after = await _scrape(client)
    route = "/api/v1/members/{member_id}"
    requests = "siyu_http_request_duration_seconds_count"
    assert _delta(before, after, requests, route=route, status="2xx") == 3
    assert _delta(before, after, requests, route=route, status="4xx") == 1
    buckets = "siyu_http_request_duration_seconds_bucket"
    assert _delta(before, after, buckets, route=route, status="2xx", le="+Inf") == 3
    # Paths that match no route share one label: a scanner cannot blow the series up.
    assert _delta(before, after, requests, route="unmatched", status="4xx") == 1
    assert not any("12345" in dict(labels).get("route", "") for _, labels in after)


async def test_scrape_shows_claims_by_outcome_and_the_job_backlog(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    order = await factories.order(session, tenant.id)
    before = await _scrape(client)

    await claims.claim(session, tenant_id=tenant.id, member_id=fan.id, platform="taobao", text=order.order_id)
    await claims.claim(session, tenant_id=tenant.id, member_id=fan.id, platform="taobao", text="1930679858179999999")
    await enqueue(session, "test.metrics.waiting", {})
    await enqueue(session, "test.metrics.waiting", {})
    await session.flush()

    after = await _scrape(client)
    assert _delta(before, after, "siyu_claims_total", outcome="credited") == 1
    assert _delta(before, after, "siyu_claims_total", outcome="pending") == 1
    assert _delta(before, after, "siyu_jobs_waiting") == 2
    assert ("siyu_jobs_failing", ()) in after and ("siyu_jobs_parked", ()) in after


async def test_database_sheds_are_counted(client: httpx.AsyncClient, app: FastAPI) -> None:
    from sqlalchemy import exc as sa_exc

    @app.get("/api/v1/test-metrics/busy")
    async def busy() -> None:
        raise sa_exc.TimeoutError("QueuePool limit reached")

    before = await _scrape(client)
    response = await client.get("/api/v1/test-metrics/busy")
    assert response.status_code == 503 and response.json()["code"] == "busy"
    after = await _scrape(client)
    assert _delta(before, after, "siyu_db_unavailable_total", cause="pool_timeout") == 1


async def test_metrics_refused_to_other_machines_without_the_token(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as remote:
        refused = await remote.get("/metrics")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        app.state.settings = app.state.settings.model_copy(update={"metrics_token": "s3cret-token"})
        assert (await remote.get("/metrics")).status_code == 403
        wrong = await remote.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        allowed = await remote.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert allowed.status_code == 200 and "siyu_jobs_waiting" in allowed.text


def test_counters_of_every_process_are_added_up_and_dead_ones_cleaned(tmp_path: Path) -> None:
    """Two processes' files in one directory are summed at scrape; at start, files of dead processes go."""
    import subprocess
    import sys

    directory = tmp_path / "metrics"
    script = (
        "import sys; from pathlib import Path; from siyu.kit import metrics; "
        "metrics.prepare_multiprocess_dir(Path(sys.argv[1])); metrics.count_import('done'); "
        "print('ready', flush=True); sys.stdin.read()"
    )
    running = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(directory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for process in running:  # each has counted, and neither removed the other's file: both are alive
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    assert len(list(directory.glob("*.db"))) == 2
    summed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; os.environ['PROMETHEUS_MULTIPROC_DIR'] = sys.argv[1]; "
            "from siyu.kit import metrics; sys.stdout.write(metrics.render().decode())",
            str(directory),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert _samples(summed)[("siyu_order_imports_total", (("outcome", "done"),))] == 2
    for process in running:
        process.communicate("")

    # Both processes have exited: a new `siyu serve` or `siyu worker` starts from a clean directory.
    saved = os.environ.get(metrics.MULTIPROC_ENV)
    try:
        metrics.prepare_multiprocess_dir(directory)
        assert list(directory.glob("*.db")) == []
    finally:
        if saved is None:
            os.environ.pop(metrics.MULTIPROC_ENV, None)
        else:
            os.environ[metrics.MULTIPROC_ENV] = saved
        from prometheus_client import values

        values.ValueClass = values.get_value_class()


@pytest.fixture
def captured_logs() -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []

    def keep(_: object, __: str, event: dict[str, object]) -> str:
        lines.append(dict(event))
        return json.dumps(event, default=str)

    saved = structlog.get_config()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, logs.add_request_id, keep],
        wrapper_class=structlog.make_filtering_bound_logger(0),
        logger_factory=structlog.ReturnLoggerFactory(),
    )
    yield lines
    structlog.configure(**saved)


async def test_request_id_is_echoed_and_carried_by_every_log_line(
    client: httpx.AsyncClient, captured_logs: list[dict[str, object]]
) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "edge-42.a:b_c"})
    assert given.headers["X-Request-ID"] == "edge-42.a:b_c"
    assert {"event": "request", "request_id": "edge-42.a:b_c"}.items() <= captured_logs[-1].items()

    # Too long, or with characters a log line should not carry: replaced by one of ours.
    for bad in ("x" * 65, "a b", "<script>", 'id"1'):
        response = await client.get("/healthz", headers={"X-Request-ID": bad})
        ours = response.headers["X-Request-ID"]
        assert ours != bad and len(ours) == 16
        assert captured_logs[-1]["request_id"] == ours

    one, two = (await client.get("/healthz"), await client.get("/healthz"))
    assert one.headers["X-Request-ID"] != two.headers["X-Request-ID"]
    # Refused before routing, still answered with its id.
    nul = await client.get("/healthz?q=%00", headers={"X-Request-ID": "nul-1"})
    assert nul.status_code == 422 and nul.headers["X-Request-ID"] == "nul-1"
    # Nothing of a request stays bound once it is answered.
    structlog.get_logger("test").info("after")
    assert "request_id" not in captured_logs[-1]
