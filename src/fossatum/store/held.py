"""What a command looks up inside its write transaction before it appends: the objects and
directory rows this node holds, read under the writer's lock so that the check and the entry
it guards see one state (a "does it exist yet" outside the transaction could race)."""

from __future__ import annotations

import json
from typing import Any

from ..log.kinds import object_kind


class HeldTx:
    """Lookups of held objects and directory rows within a write transaction (part of `Tx`)."""

    def execute(self, sql: str, params: Any = ()) -> Any:
        raise NotImplementedError

    # --- objects (by the name of an object kind of log/kinds.py: report, unit, alert…) ------
    def _object(self, kind: str, column: str, object_id: str) -> tuple[Any, ...] | None:
        obj = object_kind(kind)
        row: tuple[Any, ...] | None = self.execute(f"SELECT {column} FROM {obj.table} WHERE {obj.key} = ?",
                                                   (object_id,)).fetchone()
        return row

    def holds_object(self, kind: str, object_id: str) -> bool:
        return self._object(kind, "1", object_id) is not None

    def object_doc(self, kind: str, object_id: str) -> dict[str, Any] | None:
        """The stored document of an object, as the node holds it (not redacted)."""
        row = self._object(kind, "doc", object_id)
        return json.loads(row[0]) if row else None

    def object_origin(self, kind: str, object_id: str) -> str | None:
        """The node an object (report, unit, section) was replicated from, "" for one of this
        node's own written before origins were recorded; None if the object is not held."""
        row = self._object(kind, "origin", object_id)
        return None if row is None else row[0]

    def report_doc(self, report_id: str) -> str | None:
        """A report's stored JSON text as held (before a new version is derived from it)."""
        row = self._object("report", "doc", report_id)
        return row[0] if row else None

    # --- directory -------------------------------------------------------------------------
    def agency_exists(self, code: str) -> bool:
        return self.execute("SELECT 1 FROM agencies WHERE code = ?", (code,)).fetchone() is not None

    def agency_country(self, code: str) -> str | None:
        row = self.execute("SELECT country FROM agencies WHERE code = ?", (code,)).fetchone()
        return row[0] if row else None

    def on_roster(self, country: str) -> bool:
        return self.execute("SELECT 1 FROM roster WHERE country = ?", (country,)).fetchone() is not None

    def user_exists(self, username: str) -> bool:
        return self.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is not None

    def device_binding(self, uid: str) -> tuple[str, str] | None:
        """(username, unit id) a TAK device uid is registered to."""
        row = self.execute("SELECT username, unit_id FROM devices WHERE uid = ?", (uid,)).fetchone()
        return (row[0], row[1]) if row else None
