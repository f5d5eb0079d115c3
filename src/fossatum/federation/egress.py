"""The last check before bytes leave for a partner, written apart from `policy/` on purpose:
it reads the raw entry document and re-derives, by its own code, whether the partner is in
the audience. A disagreement with the release rule blocks the send and is audited."""

from __future__ import annotations

from typing import Any

_CROSS_BORDER = {"partners", "all_partners"}


def egress_problem(wire: dict[str, Any], *, origin: str, origin_country: str, partner_country: str) -> str | None:
    item = wire.get("item") or {}
    if item.get("from") != origin or item.get("to") != partner_country:
        return "stream item addressed to another node"
    if item.get("kind") == "tombstone":
        return None
    entry = item.get("entry") or {}
    audience = entry.get("audience") or {}
    if entry.get("origin") != origin:
        return "not this node's own entry (never forward)"
    if audience.get("local"):
        return "node-internal entry"
    report = (entry.get("payload") or {}).get("report") or {}
    if audience.get("owner_country") != origin_country:
        return "object owned by another country than this node's"
    if audience.get("scope") not in _CROSS_BORDER:
        return f"scope {audience.get('scope')!r} does not cross borders"
    if partner_country not in (audience.get("releasable_to") or []):
        return "partner not in releasable_to"
    if str(entry.get("kind", "")).startswith("section."):
        payload = entry.get("payload") or {}
        # The owner's notes on a section (units responsible, why the impact changed) stay home.
        if payload.get("impact_reason") or payload.get("responsible"):
            return "section carries node-internal notes (impact reason, responsible units)"
    if str(entry.get("kind", "")).startswith("report."):
        if audience.get("released") is not True or report.get("released") is not True:
            return "report not validated"
        if report.get("state") == "draft" or audience.get("state") == "draft":
            return "draft"
        if partner_country not in ((report.get("audience") or {}).get("releasable_to") or []):
            return "report audience does not name the partner"
        if "release" in report:  # documents from before release decisions carry none
            release = report.get("release")
            if not isinstance(release, dict) or release.get("version") != report.get("version"):
                return "not a released version of the report"
            if partner_country not in (release.get("countries") or []):
                return "the release decision does not name the partner"
    return None
