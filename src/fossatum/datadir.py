"""The node's data folder is private to the account that runs the node.

It holds the node key, the SQLite database with its WAL and shared-memory files, the TAK
CA with device certificates, TLS material and status files: the folder and every folder in
it are 0700, every file 0600. `secure` sets that where the node creates its folder and fixes
a folder made by an older version (or copied with other modes) each time the node opens it;
`private_file` creates a file 0600 from the first byte (before any umask could widen it).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("fossatum.datadir")

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077  # the process-wide default while the CLI runs (see cli.main)


def secure(data_dir: Path) -> Path:
    """Create `data_dir` if needed and bring it and everything in it to 0700 / 0600.

    Symbolic links are left alone (neither followed nor changed): a link the operator put
    there points at something the operator owns."""
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _fix(data_dir, DIR_MODE)
    for root, dirs, files in os.walk(data_dir, followlinks=False):
        for name in dirs:
            _fix(Path(root) / name, DIR_MODE)
        for name in files:
            _fix(Path(root) / name, FILE_MODE)
    return data_dir


def _fix(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:  # removed meanwhile (e.g. SQLite's -shm at close)
        return
    if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
        return
    try:
        os.chmod(path, mode)
    except PermissionError:
        # Not ours (another account's file in our folder): say so, the node still starts.
        log.warning("cannot make %s private (mode %o): not owned by this account", path, mode)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist yet (an existing file is made 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically by a 0600 file holding `data`."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
