"""/api/v1/live: a websocket that pushes each viewer what changed and they may see.

The change feed (changes.py) hands `LiveHub.committed` what each commit changed, with the
facts before and after (from the writer's or the notice listener's thread); the hub hops
onto the event loop and, per connection, decides with the same policy as every read:
a report that became visible or changed is sent; one the viewer could see before and no
longer may (narrowed, retracted, purged) is sent as removed; an urgent flag alerts the duty
officers who may see the report; field alerts (`field_alert`, raised or cancelled) and GeoChat
(`chat`) go to the viewers their audience reaches. Each connection has a bounded queue: a viewer that falls
behind is disconnected (code 4008, counted) and catches up on reconnect with `updated_since`.

A connection lives no longer than its session: when the token expires, is logged out, or its
user's password is changed or the account disabled (in any worker or from the command line:
sessions.py), it gets `{"type": "session.ended", "reason": …, "detail": …}` — nothing after
the decision — and is closed with code 4401 (`SESSION_ENDED`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from .. import auth
from ..changes import Change
from ..domain.org import Role, User
from ..domain.timeutil import to_text
from ..errors import Unauthorized
from ..log.kinds import ALERT, CHAT, CHECKPOINT, JOURNAL, OPERATION, PATROL, REPORT, SECTION, UNIT, object_kind
from ..policy.visibility import Facts, may_view, sees_released_version
from ..sessions import MESSAGES, Revocation

log = logging.getLogger("fossatum.live")
router = APIRouter()
QUEUE = 2000
AUTH_TIMEOUT = 10.0
PING_EVERY = 20.0
SESSION_ENDED = 4401  # also the code of a refused auth message: log in again
_END = "\0end"  # queued after a session ended: nothing queued before it is sent
# Object kind → (message type, key of its document) of the objects pushed to whoever may see them.
_MESSAGES = {UNIT.name: ("unit", "unit"), SECTION.name: ("section", "section"),
             ALERT.name: ("field_alert", "alert"), CHAT.name: ("chat", "message")}
# Issue 12's kinds: sent to whoever may see them now, and `<type>.removed` to whoever could before
# and no longer may (narrowed, cancelled); a journal line only with its operation.
_SHARED = {OPERATION.name: ("operation", "operation"), PATROL.name: ("patrol", "patrol"),
           CHECKPOINT.name: ("checkpoint", "checkpoint"), JOURNAL.name: ("journal", "entry")}


@dataclass(eq=False)
class Connection:
    user: User
    token_hash: str = ""
    expires_at: str = ""  # of its session
    opened_at: str = ""
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    overflowed: bool = False
    ended: str | None = None  # why its session ended (sessions.MESSAGES)


class LiveHub:
    def __init__(self, node: Any) -> None:
        self.node = node
        self.connections: set[Connection] = set()
        self.dropped = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        node.changes.subscribe(self.committed, active=self.active)  # commits of any worker
        node.sessions.subscribe(self.sessions_ended)  # logouts etc. of any worker, expiry on each tick

    def sessions_ended(self, revocations: list[Revocation]) -> None:
        """(The session watcher's thread, every tick.) Hop onto the loop to end what must end."""
        if self.loop is not None and self.connections:
            self.loop.call_soon_threadsafe(self._end_sessions, revocations)

    def _end_sessions(self, revocations: list[Revocation]) -> None:
        now = to_text(self.node.clock())
        for conn in list(self.connections):
            if conn.ended is not None:
                continue
            if conn.expires_at and conn.expires_at <= now:
                self.end(conn, "expired")
                continue
            for revocation in revocations:
                if revocation.ends_token(conn.user.username, conn.token_hash, conn.opened_at):
                    self.end(conn, revocation.reason)
                    break

    def end(self, conn: Connection, reason: str) -> None:
        """Drop what is queued for `conn` and have it closed with `reason` (on the loop)."""
        conn.ended = reason
        while not conn.queue.empty():
            conn.queue.get_nowait()
        conn.queue.put_nowait(_END)

    def active(self) -> bool:
        """(Any thread.) Whether a commit's changes concern anyone here: a loop and a viewer."""
        return self.loop is not None and bool(self.connections)

    def committed(self, changes: Sequence[Change]) -> None:
        """(The change feed, on the committing or listener thread.) Hop onto the loop."""
        if self.loop is None or not self.connections:
            return
        self.loop.call_soon_threadsafe(self._dispatch, changes)

    def _dispatch(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if change.removed:
                self._removed(change)
            elif change.object_kind == REPORT.name:
                self._report(change)
            elif change.object_kind in _SHARED:
                self._shared(change)
            elif change.object_kind in _MESSAGES:
                self._object(change)

    def _report(self, change: Change) -> None:
        """Sent to whoever may see it now; whoever saw it before and no longer may is told it
        is removed; an urgent flag alerts the duty officers at home who may see it."""
        now, before, entry = change.facts_now, change.facts_before, change.entry
        assert now is not None and entry is not None and change.doc is not None
        removed = json.dumps({"type": "report.removed", "id": change.object_id})
        message = _encoded(lambda shown: {"type": "report", "report": shown})
        for conn in list(self.connections):
            abroad = sees_released_version(conn.user, now)
            if may_view(conn.user, now):
                if abroad and change.held_abroad:
                    continue  # a partner keeps the version released to it: nothing new
                shown = change.shown(conn.user)
                self._send(conn, message(shown))
                if change.urgent and conn.user.has(Role.DUTY_OFFICER) and not abroad:
                    self._send(conn, json.dumps({"type": "alert", "alert": {
                        "report_id": change.object_id, "by": entry.author, "at": entry.ts,
                        "note": change.doc.get("urgent_note", ""), "report": shown}}, ensure_ascii=False))
            elif before is not None and may_view(conn.user, before):
                self._send(conn, removed)

    def _object(self, change: Change) -> None:
        """A unit, a section, a field alert (raised or cancelled) or a GeoChat message, to
        whoever may see it now."""
        facts = change.facts_now
        assert facts is not None
        kind, key = _MESSAGES[change.object_kind]
        message = _encoded(lambda shown: {"type": kind, key: shown})
        for conn in list(self.connections):
            if may_view(conn.user, facts):
                self._send(conn, message(change.shown(conn.user)))

    def _shared(self, change: Change) -> None:
        """An operation, journal line, patrol or checkpoint: to whoever may see it now (a journal
        line: and its operation); whoever could before and no longer may is told it is removed."""
        now, before = change.facts_now, change.facts_before
        assert now is not None
        kind, key = _SHARED[change.object_kind]
        contained = object_kind(change.object_kind).contained_in is not None
        message = _encoded(lambda shown: {"type": kind, key: shown})
        removed = json.dumps({"type": f"{kind}.removed", "id": change.object_id})

        def sees(user: User, facts: Facts | None) -> bool:
            if facts is None or not may_view(user, facts):
                return False
            return not contained or (change.facts_parent is not None and may_view(user, change.facts_parent))

        for conn in list(self.connections):
            if sees(conn.user, now):
                self._send(conn, message(change.shown(conn.user)))
            elif before is not None and may_view(conn.user, before):
                self._send(conn, removed)

    def _removed(self, change: Change) -> None:
        """A purge: whoever may have seen the object is told (from its facts, never its text)."""
        before = change.facts_before
        if before is None:
            return
        removed = json.dumps({"type": "report.removed", "id": change.object_id})
        for conn in list(self.connections):
            if may_view(conn.user, before):
                self._send(conn, removed)

    def _send(self, conn: Connection, message: str) -> None:
        if conn.ended is not None:
            return
        try:
            conn.queue.put_nowait(message)
        except asyncio.QueueFull:
            if not conn.overflowed:
                conn.overflowed = True
                self.dropped += 1
                log.warning("live: %s fell behind; disconnecting so it catches up", conn.user.username)


def _encoded(wrap: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Callable[[Mapping[str, Any]], str]:
    """JSON of `wrap(doc)`, encoded once per distinct document (most viewers share one)."""
    done: dict[int, tuple[Mapping[str, Any], str]] = {}

    def encode(doc: Mapping[str, Any]) -> str:
        hit = done.get(id(doc))
        if hit is None:
            hit = done[id(doc)] = (doc, json.dumps(wrap(doc), ensure_ascii=False))  # keeps `doc` alive: ids stay unique
        return hit[1]
    return encode


def hub_of(websocket: WebSocket) -> LiveHub:
    app = websocket.app
    hub = getattr(app.state, "live", None)
    if hub is None:
        hub = app.state.live = LiveHub(app.state.node)
    if hub.loop is None:
        hub.loop = asyncio.get_running_loop()
    return hub


@router.websocket("/api/v1/live")
async def live(websocket: WebSocket) -> None:
    await websocket.accept()
    hub = hub_of(websocket)
    try:
        first = await asyncio.wait_for(websocket.receive_json(), AUTH_TIMEOUT)
        if not isinstance(first, dict) or first.get("type") != "auth" or not isinstance(first.get("token"), str):
            raise Unauthorized('send {"type": "auth", "token": "<bearer token>"} first')
        opened_at = to_text(hub.node.clock())
        user, expires_at = hub.node.session_for_token(first["token"])
    except (TimeoutError, Unauthorized, ValueError, KeyError) as exc:
        await websocket.send_json({"type": "error", "detail": str(exc) or "authentication timed out"})
        await websocket.close(code=4401)
        return
    except WebSocketDisconnect:
        return
    conn = Connection(user, auth.token_hash(first["token"]), expires_at, opened_at)
    hub.connections.add(conn)
    try:  # registered, so a revocation from now on reaches it; one recorded meanwhile is caught here
        hub.node.session_for_token(first["token"])
    except Unauthorized:
        hub.end(conn, "logout")
    if conn.ended is None:
        await websocket.send_json({"type": "hello", "user": user.to_doc(), "node": hub.node.node_id})
    receiver = asyncio.create_task(_drain_client(websocket))
    try:
        while not receiver.done():
            if conn.overflowed:
                await websocket.close(code=4008, reason="fell behind: reconnect and catch up")
                return
            try:
                message = await asyncio.wait_for(conn.queue.get(), PING_EVERY)
            except TimeoutError:
                message = '{"type":"ping"}'
            if message == _END:
                reason = conn.ended or "logout"
                await websocket.send_json({"type": "session.ended", "reason": reason,
                                           "detail": MESSAGES.get(reason, reason)})
                await websocket.close(code=SESSION_ENDED, reason=f"session ended: {reason}")
                return
            await websocket.send_text(message)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.connections.discard(conn)
        receiver.cancel()


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, so that a closed socket is noticed."""
    try:
        while True:
            await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return
