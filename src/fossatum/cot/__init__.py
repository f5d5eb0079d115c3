"""The TAK gateway: field devices (ATAK, WinTAK, iTAK) speaking Cursor-on-Target.

    codec.py     CoT XML event ⇄ plain values; domain objects → CoT (pure, no I/O)
    operations.py  joint operations, sectors, patrol routes, checkpoints → CoT (pure, no I/O)
    framing.py   TAK protocol v0 (XML split after </event>) and v1 (0xbf varint protobuf)
    identity.py  who a device is: the auth message checked against the node's users
    pki.py       the node's TAK CA, device client certificates (TLS identity) and their register
    ingest.py    device events into the node (group-committed, one writer thread)
    fanout.py    node commits out to each device, filtered by need-to-know
    server.py    the asyncio TCP server: connections, bounded send queues, timeouts, counters

A device maps to a node user (by its auth message or its client certificate) and to a unit of the user's agency (one
per device uid). What a device sends becomes node commands (unit moved, report filed,
alert raised, chat posted); what it receives is only what its user may see.
"""
