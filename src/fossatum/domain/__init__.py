"""Pure domain types and rules: no web, database or asyncio imports (a test checks it)."""
