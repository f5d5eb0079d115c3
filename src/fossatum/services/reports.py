"""Reports: filing (one, a batch, an import), amending, flagging, the workflow transitions and
release decisions — each in one write transaction that asks the policy — and the viewer's reads."""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain import audience as aud
from ..domain import report as rules
from ..domain.ids import client_object_id
from ..domain.org import User
from ..domain.report import Report
from ..domain.timeutil import to_text
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..log import kinds
from ..policy import actions
from ..policy.actions import Action, Target, new_target
from ..policy.visibility import Facts, may_view
from ..schemas import ReportIn, ReportPatch
from ..store.contract import Transaction
from ..store.query import ReportQuery, encode_cursor
from .context import Context

# A transition's name in the API -> its rule (domain/report.py) and the kind of entry it logs.
TRANSITION_KINDS = {"submit": kinds.REPORT_SUBMITTED, "validate": kinds.REPORT_VALIDATED,
                    "return": kinds.REPORT_RETURNED, "close": kinds.REPORT_CLOSED,
                    "retract": kinds.REPORT_RETRACTED, "claim": kinds.REPORT_CLAIMED,
                    "unclaim": kinds.REPORT_UNCLAIMED}


@dataclass
class Page:
    items: list[str]
    next: str | None


def facts_doc(report: Report) -> dict[str, Any]:
    """The signed need-to-know facts of a report entry. `releasable_to` names the owner and
    the partners that hold a released version; `release_version` which version they hold —
    only the entry of that version may cross (policy/release.py)."""
    facts = Facts.of_report(report)
    return {**report.audience.to_doc(), "releasable_to": sorted(facts.releasable_to),
            "state": report.state.value, "released": report.released, "author": report.author,
            "release_version": report.release.version if report.release and report.released else None}


class Reports:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- filing --------------------------------------------------------------------------
    def _check_links(self, actor: User, links: tuple[str, ...], own_id: str) -> None:
        if own_id in links:
            raise InvalidInput("a report cannot link to itself", field="links")
        missing = set(links) - self.ctx.store.visible_report_ids(actor, list(links))
        if missing:
            raise InvalidInput(f"unknown report(s): {', '.join(sorted(missing))}", field="links")

    def prepare_report(self, *, actor: User, spec: ReportIn, now: datetime,
                       batch_ids: frozenset[str] = frozenset(), action: Action = Action.REPORT_FILE) -> Report:
        """Check a new report against every rule without writing it (links may point into `batch_ids`)."""
        ctx = self.ctx
        ctx.allow(actor, action, new_target("report", actor, node_country=ctx.country))
        content = spec.content(default_observed_at=to_text(now))
        audience = ctx.resolve(owner_agency=actor.agency, owner_country=actor.country,
                               requested=spec.audience, tlp=spec.tlp)
        report_id = spec.id or str(uuid.uuid4())
        self._check_links(actor, tuple(link for link in content.links if link not in batch_ids), report_id)
        return rules.file(report_id=report_id, origin=ctx.node_id, author=actor, audience=audience,
                          content=content, draft=spec.state == "draft", now=now)

    def file_report(self, *, actor: User, spec: ReportIn) -> dict[str, Any]:
        report = self.prepare_report(actor=actor, spec=spec, now=self.ctx.clock())
        with self.ctx.store.transaction() as tx:
            if tx.report_doc(report.id) is not None:
                raise Conflict(f"report {report.id} exists already")
            self._record(tx, report, kinds.REPORT_FILED, {})
        return report.to_doc()

    def file_client_report(self, *, actor: User, spec: ReportIn) -> tuple[dict[str, Any], bool]:
        """(report, created) for a report filed through the API. A given `id` is the client's
        key (domain/ids.py): the report's id is derived from this node, the author and the key,
        so the answer never depends on whether someone else's report exists; the author's
        retry with the same key returns that report as it is now (created False)."""
        if spec.id is None:
            return self.file_report(actor=actor, spec=spec), True
        report_id = client_object_id(origin=self.ctx.node_id, author=actor.username, key=spec.id)
        try:
            return self.file_report(actor=actor, spec=spec.model_copy(update={"id": report_id})), True
        except Conflict:
            raw = self.ctx.store.report_doc(actor, report_id)
            doc: dict[str, Any] | None = json.loads(raw) if raw is not None else None
            if doc is None or doc.get("author") != actor.username:  # a 122-bit collision, in theory
                raise Conflict("this client id cannot be used; choose another") from None
            return doc, False

    def file_reports(self, *, actor: User, specs: list[ReportIn]) -> tuple[int, int]:
        now = self.ctx.clock()
        ids = frozenset(s.id for s in specs if s.id)
        return self.file_prepared([self.prepare_report(actor=actor, spec=s, now=now, batch_ids=ids,
                                                       action=Action.REPORT_IMPORT) for s in specs])

    def file_prepared(self, reports: list[Report]) -> tuple[int, int]:
        """File checked reports in one transaction (all or nothing); ids already present are
        skipped, so that an import can be run again. Returns (filed, skipped)."""
        filed = skipped = 0
        with self.ctx.store.transaction() as tx:
            for report in reports:
                if tx.report_doc(report.id) is not None:
                    skipped += 1
                    continue
                self._record(tx, report, kinds.REPORT_FILED, {})
                filed += 1
        return filed, skipped

    def _record(self, tx: Transaction, report: Report, kind: str, extra: dict[str, Any]) -> None:
        tx.append(ts=report.updated_at, author=report.updated_by, kind=kind,
                  payload={"report": report.to_doc(), **extra}, audience=facts_doc(report))

    # --- changing ------------------------------------------------------------------------
    def _load_for_change(self, tx: Transaction, actor: User, report_id: str, action: Action) -> Report:
        raw = tx.report_doc(report_id)
        if raw is None:
            raise NotFound(f"no report {report_id}")
        report = rules.from_doc(json.loads(raw))
        if not may_view(actor, Facts.of_report(report)):
            raise NotFound(f"no report {report_id}")
        self.ctx.allow(actor, action, self.report_target(report))
        return report

    def report_target(self, report: Report) -> Target:
        return Target(kind="report", owner_country=report.audience.owner_country, node_country=self.ctx.country,
                      owner_agency=report.audience.owner_agency, creator=report.author,
                      replicated=report.origin != self.ctx.node_id, state=report.state.value,
                      handler=report.handler or "")

    def amend_report(self, *, actor: User, report_id: str, patch: ReportPatch) -> dict[str, Any]:
        now = self.ctx.clock()
        with self.ctx.store.transaction() as tx:
            report = self._load_for_change(tx, actor, report_id, Action.REPORT_AMEND)
            content = patch.apply(report.content)
            audience = report.audience
            if patch.audience is not None:
                # A new scope is resolved against today's roster; a wider audience than the
                # released one only reaches partners through a release decision.
                audience = self.ctx.resolve(owner_agency=audience.owner_agency, owner_country=audience.owner_country,
                                            requested=patch.audience, tlp=patch.tlp or audience.tlp)
            elif patch.tlp is not None:
                # A TLP change alone never re-resolves `all_partners` against today's roster.
                audience = dataclasses.replace(audience, tlp=aud.TLP(patch.tlp.value))
            if content.links != report.content.links:
                self._check_links(actor, content.links, report_id)
            amended = rules.amend(report, actor=actor, content=content, audience=audience, now=now)
            self._record(tx, amended, kinds.REPORT_AMENDED, {"fields": sorted(patch.model_fields_set)})
        return amended.to_doc()

    def flag_report(self, *, actor: User, report_id: str, urgent: bool, note: str = "") -> dict[str, Any]:
        now = self.ctx.clock()
        with self.ctx.store.transaction() as tx:
            report = self._load_for_change(tx, actor, report_id, Action.REPORT_FLAG)
            new = rules.flag(report, actor=actor, urgent=urgent, note=note, now=now)
            self._record(tx, new, kinds.REPORT_FLAGGED, {"urgent": urgent, "note": new.urgent_note})
        return new.to_doc()

    def transition(self, *, actor: User, report_id: str, action: str, reason: str = "") -> dict[str, Any]:
        now = self.ctx.clock()
        with self.ctx.store.transaction() as tx:
            try:
                checked = Action(f"report.{action}")
            except ValueError:
                raise NotFound(f"no action {action!r}") from None
            report = self._load_for_change(tx, actor, report_id, checked)
            if action == "submit":
                new = rules.submit(report, actor=actor, now=now)
            elif action == "validate":
                new = rules.validate(report, actor=actor, now=now,
                                     release=self._release_refusal(actor, report) is None)
            elif action == "return":
                new = rules.return_(report, actor=actor, reason=reason, now=now)
            elif action == "close":
                new = rules.close(report, actor=actor, reason=reason, now=now)
            elif action == "retract":
                new = rules.retract(report, actor=actor, reason=reason, now=now)
            elif action == "claim":
                new = rules.claim(report, actor=actor, now=now)
            elif action == "unclaim":
                new = rules.unclaim(report, actor=actor, now=now)
            else:
                raise NotFound(f"no action {action!r}")
            self._record(tx, new, TRANSITION_KINDS[action], {"reason": reason} if reason else {})
        return new.to_doc()

    def _release_refusal(self, actor: User, report: Report) -> str | None:
        """Why `actor` may not make a release decision on `report` (policy/actions.py)."""
        refusal = actions.authorize(actor, Action.REPORT_RELEASE, self.report_target(report))
        if refusal is None and self.ctx.settings.four_eyes_release:
            refusal = actions.four_eyes(actor, author=report.author, last_editor=report.updated_by)
        return refusal

    def release_report(self, *, actor: User, report_id: str, version: int | None = None) -> dict[str, Any]:
        """A release decision: the current version goes to the partners its audience names now."""
        now = self.ctx.clock()
        with self.ctx.store.transaction() as tx:
            report = self._load_for_change(tx, actor, report_id, Action.REPORT_RELEASE)
            refusal = self._release_refusal(actor, report)
            if refusal is not None:
                raise Forbidden(refusal)
            new = rules.release(report, actor=actor, now=now, version=version)
            self._record(tx, new, kinds.REPORT_RELEASED, {"release": new.release.to_doc() if new.release else None})
        return new.to_doc()

    # --- reads (need-to-know: the store redacts for the viewer) ----------------------------
    def report(self, *, viewer: User, report_id: str) -> str:
        raw = self.ctx.store.report_doc(viewer, report_id)
        if raw is None:
            raise NotFound(f"no report {report_id}")
        return raw

    def reports(self, *, viewer: User, query: ReportQuery) -> Page:
        docs = self.ctx.store.list_reports(viewer, query)
        if len(docs) > query.limit:
            docs = docs[: query.limit]
            last = json.loads(docs[-1])
            return Page(docs, encode_cursor(last["observed_at"], last["id"]))
        return Page(docs, None)

    def report_versions(self, *, viewer: User, report_id: str) -> list[str]:
        """Every version the viewer may see, oldest first (NotFound unless the report is visible)."""
        self.report(viewer=viewer, report_id=report_id)
        return self.ctx.store.report_versions(viewer, report_id)

    def count_reports(self, *, viewer: User, query: ReportQuery, group_by: str | None = None) -> dict[str, int]:
        return self.ctx.store.count_reports(viewer, query, group_by)
