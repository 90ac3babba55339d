"""The import rule of docs/architecture.md: each stage imports only itself and earlier stages.

flywheel -> learning -> labelling -> review -> assessment -> claims -> config, and every app ->
``ml`` (which imports no Django and no app). Lazy imports inside functions count too.
Presentation modules (APIs, views, serializers, admin, URLs, forms, template tags) may read a
later stage's selectors and
serializers to show its data; nothing may import a later stage's models, services or tasks.
``config/urls.py`` is the composition root (it mounts every stage's URLs) and is exempt.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("config", "claims", "assessment", "review", "labelling", "learning", "flywheel")
RANK = {name: rank for rank, name in enumerate(STAGES)}
COMPOSITION_ROOTS = {"config/urls.py"}
PRESENTATION = {"apis", "views", "serializers", "admin", "urls", "api_urls", "forms"}
READABLE = {"selectors", "serializers"}  # what presentation may read of a later stage


def _python_files(top: str):
    for path in sorted((ROOT / top).rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if "tests" in parts or "migrations" in parts:
            continue
        yield path


def _imports(path: Path):
    """(line, dotted module) of every import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from review import selectors`` reads review.selectors, not the package.
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _is_presentation(relative: Path) -> bool:
    stem = relative.stem
    return (
        stem in PRESENTATION
        or stem.endswith(("_apis", "_views", "_urls", "_serializers"))
        or "templatetags" in relative.parts
    )


def violations(top: str) -> list[str]:
    found = []
    for path in _python_files(top):
        relative = path.relative_to(ROOT)
        if relative.as_posix() in COMPOSITION_ROOTS:
            continue
        for line, module in _imports(path):
            head, *rest = module.split(".")
            where = f"{relative}:{line} imports {module}"
            if top == "ml":
                if head in RANK or head in ("django", "rest_framework", "celery"):
                    found.append(f"{where}: ml imports no Django and no app")
                continue
            if head not in RANK or RANK[head] <= RANK[top]:
                continue
            readable = bool(rest) and (rest[0] in READABLE or rest[0].endswith("_selectors"))
            if _is_presentation(relative) and readable:
                continue
            found.append(f"{where}: {top} is an earlier stage than {head}")
    return found


@pytest.mark.parametrize("top", [*STAGES, "ml"])
def test_no_stage_imports_a_later_stage(top):
    assert violations(top) == []


def test_the_check_finds_a_lazy_import_of_a_later_stage(tmp_path, monkeypatch):
    # given a service of claims that imports a review service inside a function
    fake = tmp_path / "claims"
    fake.mkdir()
    (fake / "services.py").write_text(
        "def f():\n    from review.services import review_decide\n", encoding="utf-8"
    )
    (fake / "apis.py").write_text("from review import customer_selectors\n", encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    # then the service is reported and the API's selector read is not
    assert violations("claims") == [
        "claims/services.py:2 imports review.services.review_decide: "
        "claims is an earlier stage than review"
    ]


def test_every_stage_with_tests_is_collected_by_a_plain_pytest_run():
    import tomllib

    testpaths = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "pytest"
    ]["ini_options"]["testpaths"]
    with_tests = [top for top in [*STAGES, "ml"] if (ROOT / top / "tests").is_dir()]
    assert [top for top in with_tests if top not in testpaths] == []
