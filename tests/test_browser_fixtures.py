"""Browser pages are opened only through tests/browser/conftest.py's fixtures (``phone_page``,
``desktop_page``, ``new_page``): they close a page only after the server answered its last
requests (the review screen's lock release on pagehide) and before the test database is flushed.
A page closed any other way let such a request reach the server after the test, which crashed a
CI run (pytest-django refused the request's database access: INTERNALERROR). Every fixture that
opens a page with ``_page`` takes ``transactional_db``, so pytest sets it up after the database
and tears it down (closing the page) before the flush, whatever order a test names fixtures in."""

import ast
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


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name == "fixture"


def _calls_page(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call)
        and (
            getattr(call.func, "id", None) == "_page" or getattr(call.func, "attr", None) == "_page"
        )
        for call in ast.walk(node)
    )


def page_fixtures_without_transactional_db(source: str) -> tuple[list[str], list[str]]:
    """The fixtures in ``source`` that call ``_page`` (in their body or a nested function),
    and those of them that do not take ``transactional_db``."""
    opening, missing = [], []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not any(_is_fixture(d) for d in node.decorator_list) or not _calls_page(node):
            continue
        opening.append(node.name)
        arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        if "transactional_db" not in {a.arg for a in arguments}:
            missing.append(node.name)
    return opening, missing


def test_every_fixture_opening_a_page_takes_transactional_db():
    # given: the browser tests' conftest and test modules
    opening, missing = [], []
    for path in sorted(BROWSER_TESTS.glob("*.py")):
        found, lacking = page_fixtures_without_transactional_db(path.read_text(encoding="utf-8"))
        opening += [f"{path.name}:{name}" for name in found]
        missing += [f"{path.name}:{name}" for name in lacking]

    # then: the conftest's page fixtures are found, and each of them takes transactional_db
    assert {"conftest.py:phone_page", "conftest.py:desktop_page", "conftest.py:new_page"} <= set(
        opening
    )
    assert missing == []


def test_page_fixture_check_flags_a_fixture_without_transactional_db():
    # given: a fixture that opens a page from a nested factory, without transactional_db
    source = (
        "@pytest.fixture\n"
        "def german_page(browser, live_server):\n"
        "    def make(options):\n"
        "        return conftest._page(browser, live_server, options)\n"
        "    yield make\n"
    )

    # when / then: it is flagged
    assert page_fixtures_without_transactional_db(source) == (["german_page"], ["german_page"])
