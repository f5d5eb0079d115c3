"""The node's services, one module per aggregate, over one shared `Context` (context.py):
reports, units, sections, field (devices, alerts, chat, field audience), admin (agencies,
users), auth (logins, sessions, passwords), integrity (verify). `Node` (node.py) is the thin
front that builds them; the write-side rules they ask stay in policy/."""
