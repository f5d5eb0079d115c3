"""Countries, agencies, units and users of a node."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ..errors import InvalidInput

AGENCY_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class Role(StrEnum):
    FIELD = "field"
    DUTY_OFFICER = "duty_officer"
    ANALYST = "analyst"
    COMMANDER = "commander"
    ADMIN = "admin"


class UnitKind(StrEnum):
    PATROL = "patrol"
    CHECKPOINT = "checkpoint"
    OBSERVATION_POST = "observation_post"
    RAPID_INTERVENTION = "rapid_intervention"
    HQ = "hq"


@dataclass(frozen=True, slots=True)
class Agency:
    code: str
    name: str
    country: str

    def to_doc(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "country": self.country}


@dataclass(frozen=True, slots=True)
class User:
    """A person with an account on this node; `country` is their agency's country."""

    username: str
    agency: str
    country: str
    roles: frozenset[Role]
    full_name: str = ""
    active: bool = True

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def to_doc(self) -> dict[str, object]:
        return {
            "username": self.username,
            "agency": self.agency,
            "country": self.country,
            "roles": sorted(r.value for r in self.roles),
            "full_name": self.full_name,
            "active": self.active,
        }


def check_agency_code(code: object) -> str:
    if not isinstance(code, str) or not AGENCY_CODE.match(code):
        raise InvalidInput(
            "expected 2-32 upper-case letters, digits, '-' or '_' (e.g. TN-GN)", field="code"
        )
    return code


def check_username(name: object) -> str:
    if not isinstance(name, str) or not USERNAME.match(name):
        raise InvalidInput(
            "expected 2-64 lower-case letters, digits, '.', '_' or '-'", field="username"
        )
    return name


def parse_roles(values: object) -> frozenset[Role]:
    if not isinstance(values, (list, tuple, set, frozenset)) or not values:
        raise InvalidInput("expected at least one role", field="roles")
    try:
        return frozenset(Role(v) for v in values)
    except ValueError:
        raise InvalidInput(
            f"unknown role in {sorted(map(str, values))}; expected {', '.join(r.value for r in Role)}",
            field="roles",
        ) from None
