"""`engine.openapi.to_openapi`: an OpenAPI 3.1 document of the route table, checked by a real validator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

import engine
from engine.openapi import to_openapi
from tests.conftest import GET_HANDLER, MakeApp

DEMO = Path(__file__).resolve().parents[2] / "demo_app"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def document(app: Path, convention: str | None = None) -> dict[str, Any]:
    doc = to_openapi(engine.load_routes(app, convention=convention))
    validate(doc)
    return doc


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.upper(), path): op for path, item in doc["paths"].items() for m, op in item.items() if m in HTTP_METHODS}


def equivalence_key(template: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", template)


def test_demo_app_document_is_valid_and_lists_every_served_method() -> None:
    doc = document(DEMO)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "demo_app"
    assert set(operations(doc)) == {
        ("GET", "/"), ("GET", "/about"), ("GET", "/docs"), ("GET", "/docs/{slug}"),
        ("GET", "/files/latest"), ("GET", "/files/{path}"), ("GET", "/posts"), ("GET", "/posts/{postId}"),
        ("GET", "/posts/{postId}/comments"), ("POST", "/posts/{postId}/comments"), ("GET", "/status"),
        ("GET", "/users"), ("POST", "/users"), ("GET", "/users/{id}"), ("PATCH", "/users/{id}"),
        ("DELETE", "/users/{id}"), ("GET", "/users/{id}/posts"),
    }  # fmt: skip
    ids = [op["operationId"] for op in operations(doc).values()]
    assert len(ids) == len(set(ids))
    assert operations(doc)[("GET", "/posts/{postId}/comments")]["operationId"] == "get_posts_post_id_comments"
    assert operations(doc)[("DELETE", "/users/{id}")]["operationId"] == "delete_users_id"
    assert all(op["responses"]["default"]["description"] for op in operations(doc).values())
    users = doc["paths"]["/users/{id}"]
    assert users["parameters"] == [
        {"name": "id", "in": "path", "required": True, "description": "One path segment.",
         "schema": {"type": "string", "minLength": 1}},
    ]  # fmt: skip
    assert users["x-routeconsole"] == {"pattern": "/users/[id]", "file": "users/[id]/route.py"}
    assert doc["x-routeconsole"] == {"convention": "next", "omitted": []}


def test_version_follows_the_described_api(make_app: MakeApp) -> None:
    first = document(make_app(["users/route.py"]))
    again = document(make_app(["users/route.py"]))
    other = document(make_app(["users/route.py", "users/[id]/route.py"]))
    assert first["info"]["version"] == again["info"]["version"] != other["info"]["version"]


DIALECT_APPS = {
    "next": {
        "route.py": '"""The root."""\n' + GET_HANDLER,
        "users/[id]/route.py": (
            '"""One user."""\n'
            "def GET(params):\n"
            '    """Read a user.\n\n    Answers 404 for an unknown id.\n    """\n'
            "    return {}\n"
            "async def DELETE(request):\n"
            '    """Delete a user."""\n'
        ),
        "files/[...path]/route.py": GET_HANDLER,
        "docs/[[...slug]]/page.py": 'def page(request, params):\n    """The docs, as HTML."""\n    return "<h1>Docs</h1>"\n',
    },
    "tanstack": {
        "index.py": GET_HANDLER,
        "users.$id.py": (
            "from engine import create_file_route\n"
            "def read_user(params):\n"
            '    """Read a user.\n\n    Answers 404 for an unknown id.\n    """\n'
            "def remove(params):\n"
            '    """Delete a user."""\n'
            'Route = create_file_route("/users/$id")(server={"handlers": {\n'
            '    "GET": read_user, "DELETE": {"middleware": [], "handler": remove}}})\n'
        ),
        "files/$.py": GET_HANDLER,
        "docs.py": 'def GET(request):\n    """The docs."""\n',
    },
    "expo": {
        "index+api.py": GET_HANDLER,
        "users/[id]+api.py": (
            "def read_user(params):\n"
            '    """Read a user.\n\n    Answers 404 for an unknown id.\n    """\n'
            "GET = read_user\n"
            "def DELETE(params):\n"
            '    """Delete a user."""\n'
        ),
        "files/[...path]+api.py": GET_HANDLER,
        "docs/[[...slug]]+api.py": 'def GET(request):\n    """The docs."""\n',
    },
}


@pytest.mark.parametrize("dialect", list(DIALECT_APPS))
def test_each_dialect_gives_a_valid_document_with_handler_docstrings(make_app: MakeApp, dialect: str) -> None:
    doc = document(make_app(DIALECT_APPS[dialect]))
    ops = operations(doc)
    read = ops[("GET", "/users/{id}")]
    assert (read["summary"], read["description"]) == ("Read a user.", "Answers 404 for an unknown id.")
    assert ops[("DELETE", "/users/{id}")]["summary"] == "Delete a user."
    assert "description" not in ops[("DELETE", "/users/{id}")]
    assert "summary" not in ops[("GET", "/")]  # no docstring: nothing made up
    assert ops[("GET", "/")]["operationId"] == "get_root"
    catch_all = "_splat" if dialect == "tanstack" else "path"
    [param] = doc["paths"][f"/files/{{{catch_all}}}"]["parameters"]
    assert param["required"] and param["in"] == "path" and "segments separated by `/`" in param["description"]
    docs = "/docs" if dialect == "tanstack" else "/docs/{slug}"
    assert ops[("GET", docs)]["summary"].startswith("The docs")


def test_next_route_and_page_docstrings_give_path_item_and_operation_text(make_app: MakeApp) -> None:
    doc = document(make_app(DIALECT_APPS["next"]))
    assert doc["paths"]["/"]["summary"] == "The root."  # the module's docstring: the path item's
    assert doc["paths"]["/users/{id}"]["summary"] == "One user."
    page = doc["paths"]["/docs/{slug}"]["get"]
    assert page["summary"] == "The docs, as HTML."
    assert "text/html" in page["responses"]["default"]["content"]


def test_optional_catch_all_is_listed_with_and_without_its_parameter(make_app: MakeApp) -> None:
    doc = document(make_app({"docs/[[...slug]]/route.py": GET_HANDLER}))
    assert list(doc["paths"]) == ["/docs", "/docs/{slug}"]
    assert "parameters" not in doc["paths"]["/docs"]
    [param] = doc["paths"]["/docs/{slug}"]["parameters"]
    assert param["required"] is True and "/docs" in param["description"]
    assert [doc["paths"][p]["get"]["operationId"] for p in doc["paths"]] == ["get_docs", "get_docs_slug"]
    root = document(make_app({"[[...all]]/route.py": GET_HANDLER}))
    assert list(root["paths"]) == ["/", "/{all}"]


def test_head_and_options_only_when_the_file_exports_them(make_app: MakeApp) -> None:
    doc = document(
        make_app(
            {
                "plain/route.py": GET_HANDLER,
                "cors/route.py": GET_HANDLER + "def OPTIONS():\n    return None\ndef HEAD():\n    return None\n",
            }
        )
    )
    assert set(doc["paths"]["/plain"]) & HTTP_METHODS == {"get"}
    assert set(doc["paths"]["/cors"]) & HTTP_METHODS == {"get", "head", "options"}


def test_operation_ids_stay_unique_when_their_words_collide(make_app: MakeApp) -> None:
    doc = document(make_app(["a-b/route.py", "a_b/route.py", "a.b/route.py", "A_B/route.py"]))
    ids = sorted(op["operationId"] for op in operations(doc).values())
    assert ids == ["get_a_b", "get_a_b_2", "get_a_b_3", "get_a_b_4"]


def test_duplicate_route_gives_one_path_item_for_the_file_that_serves(make_app: MakeApp) -> None:
    app = make_app({"(a)/x/route.py": GET_HANDLER, "(b)/x/route.py": GET_HANDLER + "def POST(): ...\n"})
    table = engine.load_routes(app)
    doc = document(app)
    assert list(doc["paths"]) == ["/x"]
    assert doc["paths"]["/x"]["x-routeconsole"]["file"] == table.match("GET", "/x").file == "(a)/x/route.py"
    assert set(doc["paths"]["/x"]) & HTTP_METHODS == {"get"}


def test_equivalent_templates_keep_the_route_that_answers(make_app: MakeApp) -> None:
    app = make_app(
        {
            "files/[name]/route.py": GET_HANDLER,
            "files/[...path]/route.py": GET_HANDLER,
            "docs/route.py": GET_HANDLER,
            "docs/[[...slug]]/route.py": GET_HANDLER,
        }
    )
    doc = document(app)
    assert list(doc["paths"]) == ["/docs", "/docs/{slug}", "/files/{name}"]
    assert doc["paths"]["/docs"]["x-routeconsole"]["file"] == "docs/route.py"
    assert doc["paths"]["/files/{name}"]["x-routeconsole"]["file"] == "files/[name]/route.py"
    omitted = {(o["file"], o["path"]) for o in doc["x-routeconsole"]["omitted"]}
    assert omitted == {("docs/[[...slug]]/route.py", "/docs"), ("files/[...path]/route.py", "/files/{path}")}
    assert all("files/[name]/route.py" in o["reason"] or "docs/route.py" in o["reason"]
               for o in doc["x-routeconsole"]["omitted"])  # fmt: skip


def test_unservable_and_unparsable_routes_are_left_out_but_import_errors_stay(make_app: MakeApp) -> None:
    app = make_app(
        {
            "broken/route.py": "def GET(:\n",  # methods unknown
            "a/[id]/b/[id]/route.py": GET_HANDLER,  # repeated-param: never served
            "imports/route.py": "import nowhere\n" + GET_HANDLER,  # fails only when imported
        }
    )
    doc = document(app)
    assert list(doc["paths"]) == ["/imports"]
    # The table the server builds after importing knows the error; the methods are still known.
    table = engine.load_routes(app)
    served = table.with_problems((), {"imports/route.py": "ModuleNotFoundError: No module named 'nowhere'"})
    item = to_openapi(served)["paths"]["/imports"]
    assert "get" in item and "nowhere" in item["x-routeconsole"]["error"]


def test_static_segments_and_odd_param_names_make_usable_templates(make_app: MakeApp) -> None:
    app = make_app(["my page/route.py", "[a{b}]/route.py", "x/[id]/[id_]/route.py"])
    doc = document(app)
    assert {"/my%20page", "/{a_b_}", "/x/{id}/{id_}"} == set(doc["paths"])
    [param] = doc["paths"]["/{a_b_}"]["parameters"]
    assert "params['a{b}']" in param["description"]
    table = engine.load_routes(app)
    assert table.match("GET", "/my%20page").file == "my page/route.py"


def test_convention_is_honoured(make_app: MakeApp) -> None:
    app = make_app({"users.$id.py": GET_HANDLER})
    assert list(document(app, "tanstack")["paths"]) == ["/users/{id}"]
    assert list(document(app, "next")["paths"]) == []


# Random layouts: whatever the files, the document validates, its operationIds are unique, no two
# templates are equivalent, and each path item belongs to the route the matcher answers its paths with.
_NAMES = st.sampled_from(["a", "b", "users", "[id]", "[slug]", "[...rest]", "[[...opt]]", "(g)", "a-b", "a_b"])


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layouts=st.lists(st.lists(_NAMES, max_size=3), min_size=1, max_size=6), methods=st.booleans())
def test_any_layout_gives_a_valid_unambiguous_document(
    make_app: MakeApp, layouts: list[list[str]], methods: bool
) -> None:
    source = GET_HANDLER + ("def POST(): ...\ndef HEAD(): ...\n" if methods else "")
    app = make_app({"/".join([*parts, "route.py"]): source for parts in layouts})
    table = engine.load_routes(app)
    doc = to_openapi(table)
    validate(doc)
    ids = [op["operationId"] for op in operations(doc).values()]
    assert len(ids) == len(set(ids))
    keys = [equivalence_key(t) for t in doc["paths"]]
    assert len(keys) == len(set(keys))
    for template, item in doc["paths"].items():
        probe = equivalence_key(template).replace("{}", "zz")
        assert table.match("GET", probe).file == item["x-routeconsole"]["file"], template
