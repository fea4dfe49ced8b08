"""The audit trail: who changed whose presence, when, and with what outcome."""

from __future__ import annotations

import azure.functions as func

from shared.api.auth import authorize, may_read_audit
from shared.api.http import json_response, next_link, page_size, route
from shared.api.models import AuditList
from shared.api.operations import LIST_AUDIT
from shared.app import services

bp = func.Blueprint()


@route(bp, LIST_AUDIT)
async def list_audit(req: func.HttpRequest) -> func.HttpResponse:
    caller = await authorize(req, LIST_AUDIT, services())
    may_read_audit(caller)
    query = {name: req.params.get(name) for name in ("user", "from", "to")}
    top = page_size(req.params.get("top"))
    entries, last = await services().audit.read(
        query["user"], query["from"], query["to"], top, req.params.get("after")
    )
    return json_response(AuditList(value=entries, next_link=next_link(req, {**query, "top": str(top)}, last)))
