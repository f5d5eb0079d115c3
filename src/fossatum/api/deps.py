"""Request dependencies: the node and the authenticated viewer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..domain.org import User
from ..errors import Unauthorized
from ..node import Node

_bearer = HTTPBearer(auto_error=False)


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node  # set by create_app
    return node


def get_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing bearer token; log in at /api/v1/auth/token")
    return credentials.credentials


def get_viewer(node: Annotated[Node, Depends(get_node)], token: Annotated[str, Depends(get_token)]) -> User:
    return node.user_for_token(token)


NodeDep = Annotated[Node, Depends(get_node)]
Viewer = Annotated[User, Depends(get_viewer)]
Token = Annotated[str, Depends(get_token)]
