"""The README's "where is what" map names real files: every function of the template, its handler as the template
wires it, and logic modules, sample events and tests that exist. Module moves fail here, not in a reader's hands."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.template import ROOT, function_properties, load_template, resources_of

README = ROOT / "README.md"
LAYER = ROOT / "layers" / "shared" / "emr_autopilot"
DOCS = ROOT / "docs"


def map_rows() -> list[list[list[str]]]:
    text = README.read_text(encoding="utf-8")
    table = text.split("<!-- where-is-what:start -->", 1)[1].split("<!-- where-is-what:end -->", 1)[0]
    lines = table.strip().splitlines()[2:]
    # Each row: cells of backticked names (function | handler | logic | sample event | tests).
    return [[re.findall(r"`([^`]+)`", cell) for cell in line.strip().strip("|").split("|")] for line in lines]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def test_the_map_has_one_row_per_function_in_the_template(template: dict[str, Any]) -> None:
    # Given the template's functions / When the map's first column is read / Then they are the same set
    functions = set(resources_of(template, "AWS::Serverless::Function"))
    assert sorted(row[0][0] for row in map_rows()) == sorted(functions)


def test_every_path_in_the_map_exists_and_each_handler_is_the_one_the_template_wires(template: dict[str, Any]) -> None:
    # Given every row of the map
    missing = []
    for function, handlers, logic, events, tests in map_rows():
        assert handlers and logic and events and tests, f"{function[0]}: a column is empty"
        # When its handler is compared with the template's CodeUri and Handler
        props = function_properties(template, template["Resources"][function[0]])
        wired = f"{props['CodeUri'].rstrip('/')}/{props['Handler'].split('.')[0]}.py"
        assert handlers == [wired], f"{function[0]}: the template wires {wired}"
        # Then every logic module (under the layer's package), sample event and test exists
        missing += [name for name in logic if not (LAYER / name).exists()]
        missing += [path for path in events + tests if not (ROOT / path).is_file()]
    assert missing == []


def test_every_docs_page_the_readme_links_exists() -> None:
    # Given the README's links into docs/ / When each is resolved / Then the page is there
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    assert links
    assert sorted({link for link in links if not (ROOT / link).is_file()}) == []


def test_relative_links_between_docs_pages_resolve() -> None:
    # Given every docs page / When its relative links (not web addresses) are resolved / Then each target exists
    broken = []
    for page in sorted(DOCS.glob("*.md")):
        for target in re.findall(r"\]\(((?!https?:|#|mailto:)[^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.name}: {target}")
    assert broken == []


def test_the_local_runtime_table_names_modules_that_exist() -> None:
    # Given docs/local-runtime.md's table (local/ is in the devkit, emr_autopilot/ in the layer)
    text = (DOCS / "local-runtime.md").read_text(encoding="utf-8")
    roots = {"local": ROOT / "devkit" / "emr_autopilot_devkit" / "local", "emr_autopilot": LAYER}
    named = re.findall(r"`(local|emr_autopilot)/([a-z_/]+\.py)`", text)
    # When each module it names is looked up / Then it exists
    assert named
    assert sorted({f"{root}/{name}" for root, name in named if not (roots[root] / name).is_file()}) == []


def test_every_repository_path_the_docs_name_exists() -> None:
    # Given every `path` in the README and docs/ that starts at a top-level folder of this repository
    tops = "tests|functions|events|statemachines|jobs|layers|devkit|scripts|docs"
    pattern = re.compile(rf"`((?:{tops})/[\w./-]*)`")
    named = {
        (page.name, path)
        for page in [README, *sorted(DOCS.glob("*.md"))]
        for path in pattern.findall(page.read_text(encoding="utf-8"))
    }
    # When each is looked up (a trailing / is a folder) / Then it is there
    assert named
    examples = {"jobs/my_job/"}  # the folder "add a job" tells you to create
    missing = sorted(
        f"{page}: {path}" for page, path in named if path not in examples and not (ROOT / path.rstrip("/")).exists()
    )
    assert missing == []
