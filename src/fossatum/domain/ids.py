"""Ids a client chooses.

A client may name what it files (a device filing offline, then retrying until it hears back).
Used as the object's id, such a name would be an existence oracle: filing with the id of a
report one may not see would answer "exists already". So a client's id is only its *key*: the
object's id is derived from the node, the author and that key. Two authors never collide, the
answer never depends on objects of others, and the same author's retry lands on the same id.
"""

from __future__ import annotations

import uuid

# Fixed for ever: changing it would give a retried key a new id.
CLIENT_KEYS = uuid.UUID("6f1c5c53-2f0e-4c8e-9a57-0d3b6c1f0e11")


def client_object_id(*, origin: str, author: str, key: str) -> str:
    """The id of the object `author` files on node `origin` under the client key `key`."""
    return str(uuid.uuid5(CLIENT_KEYS, f"{origin}\x1f{author}\x1f{key.lower()}"))
