"""Storage backends. SQLite is the default; every backend passes tests/store's contract suite."""
