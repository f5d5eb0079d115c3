"""Encodings of Fossatum's objects in open standards that partner systems read (EMSI for
operations). Pure: each module maps domain types to a document and back, with no I/O; the
API and the CLI serve what they return."""
