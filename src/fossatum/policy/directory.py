"""Who may read the node's directory: accounts, and the node's administration pages.

The host country's users see every account (their centre's staff and its visiting liaison
officers). A partner's liaison officer sees only what concerns them: their own account, their
country's accounts at this centre, and the host's duty desk (active duty officers, as a
contact: name and agency, no other roles). Replication status and the release audit say what
the node sends to whom: an administrator of the node's own country only.
"""

from __future__ import annotations

from typing import Any

from ..domain.org import Role, User

CONTACT_FIELDS = ("username", "full_name", "agency", "country")


def is_node_admin(viewer: User, node_country: str) -> bool:
    """An administrator of the country that runs this node (not a partner's admin account)."""
    return viewer.active and viewer.has(Role.ADMIN) and viewer.country == node_country


def account_view(viewer: User, account: User, node_country: str) -> dict[str, Any] | None:
    """`account` as `viewer` may see it in the directory, or None."""
    if viewer.country == node_country or account.country == viewer.country:
        return account.to_doc()
    if account.country == node_country and account.active and account.has(Role.DUTY_OFFICER):
        doc = account.to_doc()
        return {**{k: doc[k] for k in CONTACT_FIELDS}, "roles": [Role.DUTY_OFFICER.value]}
    return None


def accounts_shown(viewer: User, accounts: list[User], node_country: str) -> list[dict[str, Any]]:
    return [doc for a in accounts if (doc := account_view(viewer, a, node_country)) is not None]
