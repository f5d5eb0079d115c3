"""One error hierarchy for the whole node.

    FossatumError            anything the node refuses, with a message fit for a person
    ├── InvalidInput         422: a field is malformed or out of range (names the field)
    ├── Unauthorized         401: no or bad credentials
    ├── Forbidden            403: authenticated, but the role does not allow the action
    ├── NotFound             404: absent, or not visible to this viewer (never tell which)
    ├── Conflict             409: the action does not fit the object's current state
    ├── PayloadTooLarge      413
    ├── TooManyRequests      429: slowed down after repeated failures (carries retry_after)
    ├── StoreUnavailable     503: the database cannot be reached
    └── IntegrityError       the signed log does not verify

Backends translate their driver's errors into these at the boundary; the HTTP layer
renders them as RFC 9457 problem details, the CLI as one line on stderr.
"""

from __future__ import annotations


class FossatumError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidInput(FossatumError):
    status = 422
    title = "Invalid input"


class Unauthorized(FossatumError):
    status = 401
    title = "Unauthorized"


class Forbidden(FossatumError):
    status = 403
    title = "Forbidden"


class NotFound(FossatumError):
    status = 404
    title = "Not found"


class Conflict(FossatumError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(FossatumError):
    status = 413
    title = "Payload too large"


class TooManyRequests(FossatumError):
    status = 429
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreUnavailable(FossatumError):
    status = 503
    title = "Store unavailable"


class IntegrityError(FossatumError):
    status = 500
    title = "Log integrity failure"
