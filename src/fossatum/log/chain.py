"""Checking an origin's chain: contiguous sequence numbers, linked hashes, valid signatures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .entry import GENESIS, Entry
from .signing import verify_signature


@dataclass
class ChainReport:
    origin: str
    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(origin: str, public_key: str, entries: Iterable[Entry]) -> ChainReport:
    """Walk one origin's entries in sequence order and list everything wrong."""
    report = ChainReport(origin)
    expected_seq, prev = 1, GENESIS
    for entry in entries:
        report.entries += 1
        where = f"{origin}#{entry.seq}"
        if entry.seq != expected_seq:
            report.problems.append(f"{where}: expected sequence {expected_seq}")
        if entry.prev != prev:
            report.problems.append(f"{where}: previous-hash link broken")
        if entry.compute_hash() != entry.hash:
            report.problems.append(f"{where}: content does not match its hash")
        elif not verify_signature(public_key, entry.hash, entry.sig):
            report.problems.append(f"{where}: bad signature")
        expected_seq, prev = entry.seq + 1, entry.hash
    return report


def verify_entries(origin: str, public_key: str, entries: Iterable[Entry]) -> ChainReport:
    """A partner's released subset: each entry intact and signed, sequence numbers increasing."""
    report = ChainReport(origin)
    last = 0
    for entry in entries:
        report.entries += 1
        where = f"{origin}#{entry.seq}"
        if entry.seq <= last:
            report.problems.append(f"{where}: sequence does not increase")
        if entry.compute_hash() != entry.hash:
            report.problems.append(f"{where}: content does not match its hash")
        elif not verify_signature(public_key, entry.hash, entry.sig):
            report.problems.append(f"{where}: bad signature")
        last = entry.seq
    return report
