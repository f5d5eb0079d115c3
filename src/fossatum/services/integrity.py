"""Integrity: every origin's chain and signatures, and the ownership of the objects held."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..log.chain import ChainReport, verify_chain, verify_entries
from .context import Context


class Integrity:
    def __init__(self, ctx: Context, partner_keys: Callable[[], Mapping[str, str]]) -> None:
        """`partner_keys`: node id -> public key of every partner, inactive ones too (the federation's)."""
        self.ctx = ctx
        self.partner_keys = partner_keys

    def verify(self) -> list[ChainReport]:
        """Check every origin's chain and signatures (own key; partners' keys once federated)."""
        store = self.ctx.store
        partner_keys = self.partner_keys()
        results = []
        for origin in sorted(store.origins()):
            entries = store.entries(origin, strict=False)
            if origin == self.ctx.node_id:
                results.append(verify_chain(origin, self.ctx.key.public, entries))
            elif origin in partner_keys:
                # A partner's entries arrive as the subset released to this country: each is
                # checked on its own (hash, signature, increasing sequence), not as a chain.
                results.append(verify_entries(origin, partner_keys[origin], entries))
            else:
                report = ChainReport(origin)
                report.problems.append(f"{origin}: no public key known for this origin")
                results.append(report)
        by_origin = {r.origin: r for r in results}
        for origin, problem in self._ownership_problems():
            if origin in by_origin:
                by_origin[origin].problems.append(problem)
        return results

    def _ownership_problems(self) -> list[tuple[str, str]]:
        """(origin, problem) for every object whose row names another origin than an entry of
        it in the log: a partner's copy changed here (it would refuse every later entry from
        its origin), or an own object written by a partner. Never true while the store's
        backstop holds; a node that ran an earlier version may show it."""
        return [(entry_origin, f"{entry_origin}: {kind} {object_id} is held as {held_as}'s "
                               f"though {entry_origin} wrote it: a partner's copy was changed locally")
                for kind, entry_origin, object_id, held_as in self.ctx.store.ownership_mismatches()]
