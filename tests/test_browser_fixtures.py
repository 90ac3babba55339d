"""Browser pages are opened only through tests/browser/conftest.py's fixtures (``phone_page``,
``desktop_page``, ``new_page``): they close a page only after the server answered its last
requests (the review screen's lock release on pagehide) and before the test database is flushed.
A page closed any other way let such a request reach the server after the test, which crashed a
CI run (pytest-django refused the request's database access: INTERNALERROR)."""

import re
from pathlib import Path

BROWSER_TESTS = Path(__file__).resolve().parent / "browser"
OPENS_OR_CLOSES = re.compile(r"(?<![\w.])_page\(|\bcontext\.close\(\)|\b_close\(")


def test_no_browser_test_opens_or_closes_a_page_itself():
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(BROWSER_TESTS.glob("test_*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OPENS_OR_CLOSES.search(line)
    ]
    assert offenders == []
    assert OPENS_OR_CLOSES.search("    context, page = _page(browser, live_server, PHONE)")
