"""Authentication: logins (throttled), sessions and their tokens, passwords, logging out.

Every session of a user ends when their password is set; `Context.sessions_ended` tells this
process's live channels at once (sessions.py tells the other workers')."""

from __future__ import annotations

from datetime import timedelta

from .. import auth, sessions
from ..domain.org import User
from ..domain.timeutil import to_text
from ..errors import InvalidInput, NotFound, Unauthorized
from ..log import kinds
from ..policy.actions import Action
from ..throttle import LoginThrottle
from .admin import check_password_length
from .context import Context


class Auth:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.throttle = LoginThrottle(ctx.store, free=ctx.settings.login_free_failures,
                                      first_wait=ctx.settings.login_first_wait)

    def login(self, *, username: str, password: str, client: str = "") -> tuple[str, str, User]:
        """Check a password; returns (token, expires_at, user). `client` is the source address
        (throttle.py: per address and per account and address, never per account alone)."""
        store = self.ctx.store
        self.throttle.check(username, client)
        user = store.user(username)
        ok = auth.check_password(store.password_hash(username), password)
        if not ok or user is None or not user.active:
            self.throttle.failed(username, client)
            # A disabled account is refused like a wrong password (nothing to learn by guessing).
            raise Unauthorized("wrong username or password")
        self.throttle.succeeded(username, client)
        token, expires = self._new_session(username)
        return token, expires, user

    def _new_session(self, username: str) -> tuple[str, str]:
        token = auth.new_token()
        now = self.ctx.clock()
        expires = to_text(now + timedelta(hours=self.ctx.settings.session_hours))
        self.ctx.store.add_session(auth.token_hash(token), username, to_text(now), expires)
        return token, expires

    def session_for_token(self, token: str) -> tuple[User, str]:
        """The active user of a live token, and when the token expires."""
        store = self.ctx.store
        found = store.session(auth.token_hash(token), self.ctx.now())
        user = store.user(found[0]) if found else None
        if found is None or user is None or not user.active:
            raise Unauthorized("the token is unknown or expired; log in again")
        return user, found[1]

    def user_for_token(self, token: str) -> User:
        return self.session_for_token(token)[0]

    def logout(self, token: str, *, everywhere: bool = False) -> None:
        """End this token's session, or (`everywhere`) every session and live channel of its user."""
        ctx = self.ctx
        found = ctx.store.session(auth.token_hash(token), ctx.now())
        if found is None:
            return
        with ctx.store.transaction() as tx:
            if everywhere:
                tx.revoke_sessions(found[0], reason=sessions.LOGOUT_EVERYWHERE, at=ctx.now())
            else:
                tx.revoke_sessions(found[0], reason=sessions.LOGOUT, at=ctx.now(), token_hash=auth.token_hash(token))
        ctx.sessions_ended()

    # --- passwords -----------------------------------------------------------------------
    def set_password(self, *, actor: User | None, username: str, password: str) -> None:
        ctx = self.ctx
        author = ctx.admin(actor, Action.USER_PASSWD, kind="user", creator=username)
        check_password_length(password)
        if ctx.store.user(username) is None:
            raise NotFound(f"no user {username}")
        password_hash = auth.hash_password(password)
        now = ctx.now()
        with ctx.store.transaction() as tx:
            tx.append(ts=now, author=author, kind=kinds.USER_PASSWORD_SET, payload={"username": username},
                      audience=ctx.local())
            tx.set_password_hash(username, password_hash, now)
            # Every session, websocket and password-logged TAK device of the user ends.
            tx.revoke_sessions(username, reason=sessions.PASSWORD_CHANGED, at=now)
        ctx.sessions_ended()

    def change_own_password(self, *, actor: User, current: str, new: str, client: str = "") -> tuple[str, str]:
        """Self-service: the current password again (throttled like a login), then the new one;
        every session of the user ends, and a fresh token for this one is returned."""
        self.throttle.check(actor.username, client)
        if not auth.check_password(self.ctx.store.password_hash(actor.username), current):
            self.throttle.failed(actor.username, client)
            raise Unauthorized("the current password is wrong")
        self.throttle.succeeded(actor.username, client)
        if new == current:
            raise InvalidInput("the new password is the current one", field="new_password")
        self.set_password(actor=actor, username=actor.username, password=new)
        return self._new_session(actor.username)

    def password_hash(self, username: str) -> str | None:
        """The stored hash (the TAK gateway checks device passwords itself, off the event loop,
        and notices a password changed under a live connection)."""
        return self.ctx.store.password_hash(username)
