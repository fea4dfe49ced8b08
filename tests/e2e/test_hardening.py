"""Issue 15 through the local host: what one caller may make the service spend, and what a request may
claim about itself (its Host header)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from localdev.graph.demo import ALICE_ID
from localdev.stack import Stack

ALICE_UPN = "alice@contoso.test"
HOOK = "https://hooks.example.test/flow"
FORGED = {"Host": "attacker.example:443", "X-Forwarded-Host": "attacker.example"}


async def test_absolute_urls_come_from_the_apps_address_never_the_host_header(api, graph, stack: Stack):
    own = f"http://127.0.0.1:{stack.host_port}"
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    schedule = {
        "user": ALICE_UPN,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "statusMessage": "Lunch",
    }
    for _ in range(2):
        created = await api.post("/api/schedules", json=schedule, headers=FORGED)
        assert created.status == 201, created.body
        assert created.headers["Location"] == f"{own}/api/schedules/{created.body['id']}"
    listed = await api.get("/api/schedules?top=1", headers=FORGED)
    assert listed.body["nextLink"].startswith(f"{own}/api/schedules?")
    watch = await api.post("/api/watches", json={"users": [ALICE_ID], "callbackUrl": HOOK}, headers=FORGED)
    assert watch.status == 201, watch.body
    assert watch.headers["Location"] == f"{own}/api/watches/{watch.body['id']}"
    document = await api.get("/api/openapi.json", key=None, headers=FORGED)
    assert (document.body["host"], document.body["schemes"]) == (f"127.0.0.1:{stack.host_port}", ["http"])
