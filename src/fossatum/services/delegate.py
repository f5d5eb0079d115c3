"""`Delegate`: a method of the `Node` front that is a method of one of its services.

`add_unit = Delegate("_units", Units.add_unit)` in `Node` makes `node.add_unit(...)` call
`node._units.add_unit(...)`: same name, same signature (mypy checks callers against the
service's), one line in node.py instead of a copied signature that could drift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

P = ParamSpec("P")
R = TypeVar("R")


class Delegate(Generic[P, R]):
    """`method` of the service held in the attribute `service` of the instance."""

    def __init__(self, service: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.service, self.method = service, method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Delegate[P, R]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any]) -> Callable[P, R]: ...
    def __get__(self, instance: object | None, owner: type[Any]) -> Delegate[P, R] | Callable[P, R]:
        if instance is None:
            return self
        return cast("Callable[P, R]", getattr(getattr(instance, self.service), self.method.__name__))
