"""The signed, hash-chained entry log: the truth from which every table is projected.

An entry is `(origin, seq, ts, author, kind, payload, audience, prev, hash, sig)`.
`hash` is SHA-256 over the canonical JSON of the other fields; `sig` is the origin
node's Ed25519 signature over that hash. The format is plain JSON so that entries can
travel between nodes and be verified there with the origin's public key.
"""
