"""The product against Graph's undocumented behaviours read either way (localdev/graph/README.md,
"Readings"): Retry-After in both forms or missing, a `$batch` failed whole with 424, and health when an
unknown id is refused rather than left out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from localdev.graph.demo import ALICE_ID
from shared.app import Services
from shared.platform.errors import ServiceError

UPNS = ["alice@contoso.test", "bob@contoso.test", "carol@contoso.test"]


async def test_a_throttle_with_an_http_date_is_retried_after_that_date(services: Services, graph):
    await graph.fault("*/presence", status=429, method="GET", retry_after=1, retry_after_form="http-date")
    assert (await services.presence.read(ALICE_ID)).user_id == ALICE_ID
    first, again = await graph.journal(path="/presence")
    assert (first.status, again.status) == (429, 200)
    assert again.at - first.at >= timedelta(seconds=1)


async def test_a_throttle_without_retry_after_is_retried_on_the_sdk_s_own_back_off(services: Services, graph):
    await graph.fault("*/presence", status=503, method="GET", retry_after_form="none")
    assert (await services.presence.read(ALICE_ID)).user_id == ALICE_ID
    assert [e.status for e in await graph.journal(path="/presence")] == [503, 200]


async def test_persistent_throttling_passes_an_http_date_on_as_seconds(services: Services, graph):
    await graph.fault(
        "*/presence", status=429, method="GET", count=4, retry_after=1, retry_after_form="http-date"
    )
    with pytest.raises(ServiceError) as caught:
        await services.presence.read(ALICE_ID)
    assert (caught.value.code, caught.value.headers["Retry-After"]) == ("graphThrottled", "2")  # rounded up


async def test_an_inner_throttle_with_an_http_date_is_retried_in_a_new_batch(services: Services, graph):
    await graph.fault(
        "/users/bob@contoso.test", status=429, method="GET", retry_after=1, retry_after_form="http-date"
    )
    result = await services.presence.query(UPNS)
    assert (len(result.value), result.errors) == (3, [])
    first, again = [e for e in await graph.journal(path="/users/bob@contoso.test") if e.batch_request_id]
    assert (first.status, again.status) == (429, 200)
    assert again.at - first.at >= timedelta(seconds=1)


async def test_a_batch_failed_whole_with_424_is_sent_again_not_a_502_for_its_users(services: Services, graph):
    await graph.fault("/$batch", status=424, method="POST")
    result = await services.presence.query(UPNS)
    assert (len(result.value), result.errors) == (3, [])
    assert [e.status for e in await graph.journal(path="/$batch")] == [424, 200]


async def test_a_batch_failed_whole_with_424_every_time_is_a_503_not_a_502(services: Services, graph):
    await graph.fault("/$batch", status=424, method="POST", count=10, retry_after=0)
    with pytest.raises(ServiceError) as caught:
        await services.presence.query(UPNS)  # every user failed for a passing reason: the query is a 503
    assert (caught.value.status, caught.value.code) == (503, "graphUnavailable")
    assert [e.status for e in await graph.journal(path="/$batch")] == [424] * 4  # the first and 3 rounds


@pytest.mark.parametrize("reading", ["omitted", "error"])
async def test_health_holds_whether_graph_leaves_the_probe_id_out_or_refuses_it(
    services: Services, graph, reading
):
    await graph.set_readings(unknown_presence_ids=reading)
    assert (await services.health.state())["graph"] is True
    [probe] = await graph.journal(path="/getPresencesByUserId")
    assert (probe.status, probe.readings) == (
        200 if reading == "omitted" else 404,
        (f"unknownPresenceIds={reading}",),
    )
