"""An OpenAPI 3.1 document from a route table, read from the files (no route code runs).

    doc = to_openapi(engine.load_routes("./app"))      # a dict, ready for json.dumps

What it holds, and the choices behind it:

- One path item per route the table serves (`RouteTable.match` reaches it) that exports a
  method. A file shadowed by another (`duplicate-route`, `ambiguous-params`...) or that
  cannot be routed at all is left out; a route whose file fails to load is listed when its
  methods are known (its path item carries the error under `x-routeconsole`).
- Canonical params become `{name}`, all `in: path`, required strings. A catch-all
  `[...path]` is one `{path}` whose description says it takes several `/`-separated
  segments; an optional catch-all `[[...slug]]` is listed twice, with `{slug}` and without
  it (`/docs/{slug}` and `/docs`). A static segment is percent-encoded where a URL needs it,
  and a param name is kept unless it holds a character other than letters, digits, `_`,
  `-` and `.`: those become `_`, so `{` and `}` never end up inside a template.
- One operation per exported method: `operationId` `get_users_id` (method, then the
  template's words in snake_case; `_2`, `_3`... when two would be the same), `summary` the first line of
  the handler's docstring and `description` the rest. A next page answers GET. HEAD and
  OPTIONS, which routeconsole answers itself for every route (HEAD from GET, OPTIONS with
  `Allow`), are left out; a file that exports its own HEAD or OPTIONS keeps them, since
  they then answer as that file says. Every operation has a `default` response.
- No two path templates are *equivalent* (the same but for param names), which OpenAPI
  forbids and client generators reject. The route table can produce them in two ways:
  `/files/[name]` beside `/files/[...path]` (both `/files/{…}`), and an optional catch-all's
  bare template beside the route of its prefix (`/docs/[[...slug]]` and `docs/route.py`
  both give `/docs`). Of equivalent templates the one listed belongs to the route that
  `RouteTable.match` answers for a path that fits them all (`/files/x`: `[name]`); each
  one left out is named, with the reason, in the document's `x-routeconsole.omitted` (it
  still serves what the listed one does not: there, the paths of two segments or more).
- `info.title` is the app folder's name; `info.version` is `0.0.0+` and a digest of the
  paths, so it changes when, and only when, the described API does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from .segments import CATCHALL, OPTIONAL, PARAM, STATIC
from .source import Docstrings, read_docstrings
from .table import Route, RouteTable

OPENAPI_VERSION: Final = "3.1.0"
_NAME_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.\-]")
_WORD_UNSAFE: Final = re.compile(r"[^A-Za-z0-9]+")
_CAMEL_HUMP: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PCHAR_SAFE: Final = "!$&'()*+,;=:@"  # RFC 3986 pchar beyond unreserved: left as they are


@dataclass(frozen=True, slots=True)
class _Item:
    """A path item to be: one route under one template."""

    route: Route
    template: str
    names: tuple[tuple[str, int], ...]  # (template name, segment kind) of each `{param}`
    bare: bool  # an optional catch-all's template without its parameter

    @property
    def key(self) -> str:
        """The template with its names blanked: equal keys are equivalent templates."""
        return re.sub(r"\{[^}]*\}", "{}", self.template)


def to_openapi(table: RouteTable, *, title: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing what `table` serves (see the module docstring)."""
    items, omitted = _listed_items(table)
    paths: dict[str, Any] = {}
    operation_ids: set[str] = set()
    docs: dict[str, Docstrings] = {}
    for item in items:
        route = item.route
        if route.file not in docs:
            docs[route.file] = read_docstrings(table.app_dir / route.file, page=route.kind == "page")
        paths[item.template] = _path_item(item, docs[route.file], operation_ids)
    name = title or table.app_dir.resolve().name or "app"
    digest = hashlib.sha256(json.dumps(paths, sort_keys=True).encode()).hexdigest()[:12]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": name,
            "version": f"0.0.0+{digest}",
            "description": f"The routes of {name} ({table.convention} convention), read from its files.",
        },
        "paths": paths,
        "x-routeconsole": {"convention": table.convention, "omitted": omitted},
    }


def _listed_items(table: RouteTable) -> tuple[list[_Item], list[dict[str, str]]]:
    """The items to list, in match order, and the routes left out for an equivalent template.

    Routes that export no method take part in the contest (they answer their paths, with a
    405) but are not listed.
    """
    served = table.served()
    candidates = [item for route in table.routes if route.file in served for item in _items(route)]
    by_key: dict[str, list[_Item]] = {}
    for item in candidates:
        by_key.setdefault(item.key, []).append(item)
    probe = _probe_value(table)
    listed: list[_Item] = []
    omitted: list[dict[str, str]] = []
    for item in candidates:
        rivals = by_key[item.key]
        winner = item
        if len(rivals) > 1:
            path = item.key.replace("{}", probe)
            winner = _answering(table, path, rivals)
        if item is winner:
            if item.route.methods:
                listed.append(item)
        elif item.route.methods:
            omitted.append(
                {
                    "pattern": item.route.pattern,
                    "file": item.route.file,
                    "path": item.template,
                    "reason": f"{winner.template} ({winner.route.file}) is the same path"
                    f"{'' if winner.template == item.template else ' but for parameter names'}, which OpenAPI "
                    f"lists once; {winner.route.file} answers {path}",
                }
            )
    return listed, omitted


def _answering(table: RouteTable, path: str, rivals: list[_Item]) -> _Item:
    """Which of equivalent items the matcher answers `path` (which fits them all) with."""
    file = table.match("GET", path).file
    for item in rivals:
        if item.route.file == file:
            return item
    # Not reached for a table the matcher built (the probe fits every rival and no static
    # segment); the matcher's own order then: `[x]` before `[...x]` before the bare prefix.
    return min(rivals, key=lambda i: (tuple(kind for _, kind in i.names), i.bare))


def _probe_value(table: RouteTable) -> str:
    """A segment value no route has as a static segment, so a probe path reaches params only."""
    statics = {s.value for r in table.routes for s in r.segments if s.kind == STATIC}
    probe = "x"
    while probe in statics:
        probe += "x"
    return probe


def _items(route: Route) -> Iterator[_Item]:
    parts: list[str] = []
    names: list[tuple[str, int]] = []
    taken: set[str] = set()
    for segment in route.segments:
        if segment.kind == STATIC:
            parts.append(quote(segment.value, safe=_PCHAR_SAFE))
            continue
        if segment.kind == OPTIONAL:
            yield _Item(route, "/" + "/".join(parts), tuple(names), bare=True)
        name = _template_name(segment.value, taken)
        taken.add(name)
        names.append((name, segment.kind))
        parts.append("{" + name + "}")
    yield _Item(route, "/" + "/".join(parts), tuple(names), bare=False)


def _template_name(name: str, taken: set[str]) -> str:
    safe = _NAME_UNSAFE.sub("_", name) or "_"
    unique, n = safe, 1
    while unique in taken:
        n += 1
        unique = f"{safe}_{n}"
    return unique


def _path_item(item: _Item, docs: Docstrings, operation_ids: set[str]) -> dict[str, Any]:
    route = item.route
    path_item: dict[str, Any] = {}
    if docs.module:
        summary, description = _split_doc(docs.module)
        path_item["summary"] = summary
        if description:
            path_item["description"] = description
    if item.names:
        path_item["parameters"] = [_parameter(item, i) for i in range(len(item.names))]
    # route.methods are those the file exports: the HEAD and OPTIONS routeconsole adds are not in it.
    for method in route.methods:
        operation: dict[str, Any] = {"operationId": _operation_id(method, item, operation_ids)}
        doc = docs.handlers.get(method)
        if doc:
            summary, description = _split_doc(doc)
            operation["summary"] = summary
            if description:
                operation["description"] = description
        operation["responses"] = {"default": _response(route)}
        path_item[method.lower()] = operation
    extension: dict[str, Any] = {"pattern": route.pattern, "file": route.file}
    if route.error:
        extension["error"] = route.error
    path_item["x-routeconsole"] = extension
    return path_item


def _parameter(item: _Item, index: int) -> dict[str, Any]:
    name, kind = item.names[index]
    original = [s.value for s in item.route.segments if s.kind != STATIC][index]
    if kind == PARAM:
        description = "One path segment."
    elif kind == CATCHALL:
        description = (
            "The rest of the path: one or more segments separated by `/` (`a/b/c`). "
            "Send the slashes as they are: an escaped `%2F` is a slash inside one segment."
        )
    else:
        bare = item.template.rsplit("/", 1)[0] or "/"
        description = (
            "The rest of the path: one or more segments separated by `/` (`a/b/c`). "
            f"Send the slashes as they are: an escaped `%2F` is a slash inside one segment. "
            f"With none, the path is {bare}, listed on its own."
        )
    if original != name:
        description += f" The handler reads it as params[{original!r}]."
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }


def _operation_id(method: str, item: _Item, taken: set[str]) -> str:
    words = [method.lower()]
    for part in item.template.strip("/").split("/"):
        word = _WORD_UNSAFE.sub("_", _CAMEL_HUMP.sub("_", part)).strip("_").lower()
        if word:
            words.append(word)
    if len(words) == 1:
        words.append("root")
    base = "_".join(words)
    unique, n = base, 1
    while unique in taken:
        n += 1
        unique = f"{base}_{n}"
    taken.add(unique)
    return unique


def _response(route: Route) -> dict[str, Any]:
    if route.kind == "page":
        return {"description": "The page's HTML.", "content": {"text/html": {"schema": {"type": "string"}}}}
    return {"description": "Whatever the handler answers (routeconsole does not read response shapes)."}


def _split_doc(doc: str) -> tuple[str, str]:
    """A docstring's first line, and the rest (blank lines at its start dropped)."""
    first, _, rest = doc.strip().partition("\n")
    return first.strip(), rest.strip()
