"""Node-to-node replication.

    sender side                                   receiver side
    ───────────                                   ─────────────
    log ──release.py──▶ outbox (one signed,       pull.py ──fetch──▶ stream endpoint
          (policy.release)   gap-free stream         │                 (egress.py re-checks
                             per partner)            ▼                  every item first)
                                                  inbound.py: verify stream position,
                                                  item and entry signatures, no
                                                  forwarding; store read-only; purge
                                                  on tombstones

Only the originator sends its own entries; a receiver never forwards. Streams are
resumable (the receiver's cursor is the stream sequence it holds) and idempotent.
"""
