"""A data folder made by an earlier main stays valid (issue 11: behaviour unchanged).

tests/data/legacy-folder.tar.gz holds two federated SQLite node folders, TUN/ and DZA/,
made once by tests/data/make_legacy_folder.py with the code of the day: every kind of
entry that code writes (reports through their whole life, links, units and late fixes,
sections and their notes, a TAK device, alert and chat, partners added and removed, and
entries received from the partner). Today's code must still verify every chain in them
(`fossatum verify`) and rebuild from their logs exactly the views they hold (`fossatum
rebuild`): entry bytes, hashes, signatures and projections unchanged.
"""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fossatum.cli import cli

ARCHIVE = Path(__file__).resolve().parent / "data" / "legacy-folder.tar.gz"
NODES = ("TUN", "DZA")
# Internal pages of the R*Tree: their layout is SQLite's business; the index's rows
# (`reports_space_time` itself) are compared.
RTREE_SHADOWS = ("_node", "_parent", "_rowid")


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path


def views(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the node's database, rows sorted (the log and the projections alike)."""
    conn = sqlite3.connect(db)
    try:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            if not (name.startswith("reports_space_time") and name.endswith(RTREE_SHADOWS))]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


def fossatum(*args: str | Path) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("country", NODES)
def test_a_folder_of_an_earlier_main_verifies_and_rebuilds_the_same_views(legacy: Path, country: str) -> None:
    folder = legacy / country
    out = fossatum("verify", "--data", folder)
    lines = out.splitlines()
    assert len(lines) == 2 and all(line.endswith(" ok") for line in lines), out  # its own chain and the partner's
    before = views(folder / "fossatum.db")
    assert {"reports", "report_versions", "units", "unit_positions", "sections", "alerts", "chat", "devices",
            "partners", "users", "agencies", "roster"} <= set(before)
    assert all(before[t] for t in ("reports", "units", "sections", "alerts", "chat", "partners")) \
        if country == "TUN" else before["reports"]

    fossatum("rebuild", "--data", folder)
    after = views(folder / "fossatum.db")
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], f"{country}: table {table} differs after rebuild"
    fossatum("verify", "--data", folder)


KINDS = {
    "node.init", "roster.added", "agency.added", "agency.field_audience_set", "user.added", "user.password_set",
    "user.updated", "unit.added", "unit.moved", "device.registered", "alert.raised", "alert.cancelled",
    "chat.posted", "section.added", "section.impact_set", "section_notes.set", "partner.added", "partner.updated",
    "report.filed", "report.amended", "report.claimed", "report.unclaimed", "report.submitted", "report.validated",
    "report.returned", "report.closed", "report.retracted", "report.flagged", "report.released",
}


def test_the_folder_holds_every_kind_of_entry_of_then(legacy: Path) -> None:
    """Guards the archive itself: remade with fewer kinds, it would prove less."""
    assert ARCHIVE.stat().st_size < 500_000
    kinds: set[str] = set()
    received = 0
    for country in NODES:
        conn = sqlite3.connect(legacy / country / "fossatum.db")
        own = conn.execute("SELECT value FROM meta WHERE name = 'node_id'").fetchone()[0]
        kinds |= {k for (k,) in conn.execute("SELECT DISTINCT kind FROM log")}
        received += conn.execute("SELECT count(*) FROM log WHERE origin != ? AND kind LIKE 'report.%'",
                                 (own,)).fetchone()[0]
        conn.close()
    assert kinds >= KINDS, sorted(KINDS - kinds)
    assert received >= 2  # reports from the partner, at each side
