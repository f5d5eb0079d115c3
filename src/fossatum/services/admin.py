"""Administration: agencies (and the roster of countries they bring), user accounts, enabling
and disabling them — and the directory reads behind the API's /agencies and /users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import auth, sessions
from ..domain import audience as aud
from ..domain.org import Role, User, check_agency_code, check_username, parse_roles
from ..errors import Conflict, InvalidInput, NotFound
from ..log import kinds
from ..policy.actions import Action
from .context import Context

MIN_PASSWORD = 8


def check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters", field="password")


class Admin:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def add_agency(self, *, actor: User | None, code: str, name: str, country: str) -> dict[str, Any]:
        """Register an agency; an agency of another country puts that country on the roster."""
        ctx = self.ctx
        author = ctx.admin(actor, Action.AGENCY_ADD, kind="agency")
        check_agency_code(code)
        aud.check_country(country, field="country")
        if not name.strip():
            raise InvalidInput("a name is required", field="name")
        now = ctx.now()
        with ctx.store.transaction() as tx:
            if tx.agency_exists(code):
                raise Conflict(f"agency {code} exists already")
            if not tx.on_roster(country):
                tx.append(ts=now, author=author, kind=kinds.ROSTER_ADDED, payload={"country": country},
                          audience=ctx.local())
            doc = {"code": code, "name": name.strip(), "country": country}
            tx.append(ts=now, author=author, kind=kinds.AGENCY_ADDED, payload=doc, audience=ctx.local())
        return doc

    def add_user(self, *, actor: User | None, username: str, agency: str, roles: Sequence[str] | frozenset[Role],
                 password: str, full_name: str = "") -> User:
        ctx = self.ctx
        author = ctx.admin(actor, Action.USER_CREATE, kind="user", owner_agency=agency, creator=username)
        check_username(username)
        role_set = parse_roles(list(roles))
        check_password_length(password)
        agency_doc = ctx.store.agency(agency)
        if agency_doc is None:
            raise InvalidInput(f"unknown agency {agency!r}", field="agency")
        user = User(username, agency, agency_doc["country"], role_set, full_name)
        password_hash = auth.hash_password(password)
        now = ctx.now()
        with ctx.store.transaction() as tx:
            if tx.user_exists(username):
                raise Conflict(f"user {username} exists already")
            tx.append(ts=now, author=author, kind=kinds.USER_ADDED, payload=user.to_doc(), audience=ctx.local())
            tx.append(ts=now, author=author, kind=kinds.USER_PASSWORD_SET, payload={"username": username},
                      audience=ctx.local())
            tx.set_password_hash(username, password_hash, now)
        return user

    def set_user_active(self, *, actor: User | None, username: str, active: bool) -> User:
        ctx = self.ctx
        author = ctx.admin(actor, Action.USER_ENABLE if active else Action.USER_DISABLE, kind="user",
                           creator=username)
        user = ctx.store.user(username)
        if user is None:
            raise NotFound(f"no user {username}")
        if actor is not None and actor.username == username and not active:
            raise Conflict("an administrator cannot disable their own account")
        updated = User(user.username, user.agency, user.country, user.roles, user.full_name, active)
        now = ctx.now()
        with ctx.store.transaction() as tx:
            tx.append(ts=now, author=author, kind=kinds.USER_UPDATED, payload=updated.to_doc(), audience=ctx.local())
            if not active:  # every session and live channel, certificate devices too
                tx.revoke_sessions(username, reason=sessions.DISABLED, at=now)
        ctx.sessions_ended()
        return updated

    # --- directory reads -------------------------------------------------------------------
    def agencies(self) -> list[dict[str, Any]]:
        return self.ctx.store.agencies()

    def users(self) -> list[User]:
        return self.ctx.store.users()

    def user(self, username: str) -> User | None:
        return self.ctx.store.user(username)
