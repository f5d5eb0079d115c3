"""The page when the server ends its session (finding 5 of issue 10): back to the login form
at once, no reconnect loop with a dead token."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Demo

pytestmark = pytest.mark.slow


def test_a_disabled_account_s_page_returns_to_the_login_form(open_page: Any, demo: Demo) -> None:
    hedi = open_page("hedi")
    try:
        assert demo.api("POST", "/users/hedi/disable", "admin").status_code == 200
        hedi.page.wait_for_selector("form.login", timeout=4_000)  # closed with 4401 within 2 s
        assert hedi.page.locator("#map[data-shown]").count() == 0
    finally:
        assert demo.api("POST", "/users/hedi/enable", "admin").status_code == 200
