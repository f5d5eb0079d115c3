"""The data folder is private to the node's account: the folder 0700, every file in it
(database, WAL, shared memory, key, TAK CA and device certificates, status) 0600 — made so
whatever the umask, and fixed on start for a folder created with other modes.

Another local OS user is the attacker here: with 0644 files they read the whole database."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import sighting
from fossatum.cot.pki import Authority
from fossatum.node import init_node, open_node
from fossatum.schemas import ReportIn

pytestmark = pytest.mark.both_backends

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual default umask (files 0644): the modes must not depend on the caller's umask."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def modes(folder: Path) -> dict[str, int]:
    """Mode of the folder and of everything in it, by path relative to it."""
    out = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        out[str(path.relative_to(folder))] = stat.S_IMODE(path.lstat().st_mode)
    return out


def assert_private(folder: Path) -> None:
    loose = {name: oct(mode) for name, mode in modes(folder).items()
             if mode != (0o700 if (folder / name).is_dir() else 0o600)}
    assert not loose, f"not private: {loose}"


def test_a_new_node_folder_is_private_whatever_the_umask(tmp_path: Path, loose_umask: None,
                                                         fresh_database: Callable[[], str | None],
                                                         store_backend: str) -> None:
    data = tmp_path / "tun"
    node = init_node(data, country="TUN", name="Tunisia NCC", database_url=fresh_database())
    try:
        node.add_agency(actor=None, code="TN-GN", name="Garde nationale", country="TUN")
        node.add_user(actor=None, username="amira", agency="TN-GN", roles=["duty_officer"], password="x" * 12)
        node.file_report(actor=node.store.user("amira"), spec=ReportIn.model_validate(sighting()))
        names = set(modes(data))
        assert "node.key" in names
        if store_backend == "sqlite":
            # The WAL and shared-memory files exist while the node is open, and hold recent writes.
            assert {"fossatum.db", "fossatum.db-wal", "fossatum.db-shm"} <= names
        assert_private(data)
    finally:
        node.close()


def test_opening_a_folder_with_loose_modes_makes_it_private(tmp_path: Path, loose_umask: None,
                                                            fresh_database: Callable[[], str | None]) -> None:
    data = tmp_path / "tun"
    url = fresh_database()
    init_node(data, country="TUN", name="Tunisia NCC", database_url=url).close()
    (data / "notes").mkdir()
    (data / "notes" / "handover.txt").write_text("shift notes")
    for path in [data, *data.rglob("*")]:  # as an older version (or a careless copy) left them
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    open_node(data, database_url=url).close()
    assert_private(data)


def test_tak_authority_and_device_files_are_private(tmp_path: Path, loose_umask: None,
                                                     fresh_database: Callable[[], str | None]) -> None:
    data = tmp_path / "tun"
    init_node(data, country="TUN", name="Tunisia NCC", database_url=fresh_database()).close()
    issued = Authority(data).add_device(username="sami", callsign="GN-7", uid="ANDROID-1")
    assert issued.bundle.exists() and (data / "tak" / "ca.pem").exists()
    assert_private(data)


def test_cli_init_and_export_create_private_files(tmp_path: Path, loose_umask: None, store_backend: str) -> None:
    if store_backend != "sqlite":
        pytest.skip("the CLI run here uses SQLite (the PostgreSQL folder is covered above)")
    data = tmp_path / "node"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("FOSSATUM_DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fossatum.cli", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    done = run("init", "--data", str(data), "--country", "TUN", "--name", "Tunisia NCC")
    assert done.returncode == 0, done.stderr
    assert_private(data)
    node = open_node(data)
    node.add_agency(actor=None, code="TN-GN", name="Garde nationale", country="TUN")
    node.add_user(actor=None, username="amira", agency="TN-GN", roles=["duty_officer"], password="x" * 12)
    node.file_report(actor=node.store.user("amira"), spec=ReportIn.model_validate(sighting()))
    node.close()
    out = tmp_path / "export.jsonl"
    done = run("export", "--data", str(data), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
