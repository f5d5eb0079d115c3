"""What the federation needs of its node: a narrow interface, so that `Federation` does not
import the `Node` that holds it (the node passes itself at construction)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from ..domain.org import User
from ..log.signing import NodeKey
from ..policy.actions import Action, Target

if TYPE_CHECKING:
    from ..store.contract import Store


class Host(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def key(self) -> NodeKey: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def node_id(self) -> str: ...

    @property
    def country(self) -> str: ...

    def allow(self, actor: User | None, action: Action, target: Target) -> str:
        """The node's write-side policy: the author name of the entry to write, or Forbidden."""
        ...
