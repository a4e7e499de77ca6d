"""The handler API: `Request` and `Response`, shaped after the web's Fetch API.

    async def GET(request, params, context):
        request.query.get("q"), request.headers["accept"], await request.json()
        return Response.json({"id": params["id"]}, status=200, headers={"x-a": "1"})

Request headers are read-only and case-insensitive; response headers are mutable so
middleware can stamp them on the way out. Bodies are read by the app before the route
runs (up to the body limit), so `body()`, `json()` and `form()` may be called in any
order and more than once.
"""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from http.cookies import SimpleCookie
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl, urlencode

__all__ = [
    "FormData",
    "Headers",
    "ImmutableRequestError",
    "MalformedBody",
    "MutableHeaders",
    "QueryParams",
    "Request",
    "Response",
    "UploadFile",
]

Body = str | bytes | Iterable[bytes | str] | AsyncIterable[bytes | str] | None


class ImmutableRequestError(RuntimeError):
    """Global middleware tried to change the request or consume its body."""


class MalformedBody(ValueError):
    """The request's body is not what `json()` or `form()` was asked to read it as.

    The client's mistake, not the app's: when route code lets it propagate, the request
    answers 400 with this message rather than 500. It is a `ValueError` (and, from `json()`,
    a `json.JSONDecodeError`), so code that catches those to answer in its own way still does.
    """


class _MalformedJSON(MalformedBody, _json.JSONDecodeError):
    def __str__(self) -> str:  # `msg`, `doc` and `pos` stay json's own
        return f"the body is not JSON: {super().__str__()}"


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only headers; `getlist` returns every value of a repeated one.

    PERF: kept as the server's raw `(bytes, bytes)` pairs and decoded only when read, so a
    request whose code never looks at a header never pays for decoding them all.
    """

    __slots__ = ("_index", "_raw")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]] | Mapping[str, str] | None = None) -> None:
        if raw is None:
            self._raw: list[tuple[bytes, bytes]] = []
        elif type(raw) is list:  # PERF: the server's pairs; skips the costly Mapping ABC check
            self._raw = raw
        elif isinstance(raw, Mapping):
            self._raw = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in raw.items()]
        else:
            self._raw = raw if isinstance(raw, list) else list(raw)
        self._index: dict[str, str] | None = None

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = {}
            for key, value in self._raw:
                index.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
            self._index = index
        return index

    def __getitem__(self, key: str) -> str:
        return self._lookup()[key.lower()]

    def get(self, key: str, default: Any = None) -> Any:
        # PERF: a few lookups scan the raw pairs (names are lowercase in ASGI and here)
        # rather than decode every header into an index.
        if self._index is None:
            name = key.lower().encode("latin-1")
            for k, v in self._raw:
                if k == name:
                    return v.decode("latin-1")
            return default
        return self._index.get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def getlist(self, key: str) -> list[str]:
        wanted = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._raw if k.lower() == wanted]

    def multi_items(self) -> list[tuple[str, str]]:
        return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in self._raw]

    def raw(self) -> list[tuple[bytes, bytes]]:
        """The pairs as the server sends them (not a copy)."""
        return self._raw

    def __setitem__(self, key: str, value: str) -> None:
        raise ImmutableRequestError(
            "request headers are read-only; pass values to later middleware with `await next(context={...})` instead"
        )

    def __delitem__(self, key: str) -> None:
        self.__setitem__(key, "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.multi_items()!r})"


class MutableHeaders(Headers):
    """Response headers: set, append and delete, case-insensitively."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        name = key.lower().encode("latin-1")
        self._raw = [(k, v) for k, v in self._raw if k != name]
        self._raw.append((name, str(value).encode("latin-1")))
        self._index = None

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._raw = [(k, v) for k, v in self._raw if k != name]
        self._index = None

    def append(self, key: str, value: str) -> None:
        self._raw.append((key.lower().encode("latin-1"), str(value).encode("latin-1")))
        self._index = None

    def setdefault(self, key: str, value: str) -> str:
        if key not in self:
            self[key] = value
        return self[key]


class QueryParams(Mapping[str, str]):
    """The query string: `get` gives the first value, `getlist` all of them."""

    __slots__ = ("_first", "_items")

    def __init__(self, query_string: str | bytes = "") -> None:
        if isinstance(query_string, bytes):
            query_string = query_string.decode("latin-1")
        self._items = parse_qsl(query_string, keep_blank_values=True)
        first: dict[str, str] = {}
        for key, value in self._items:
            first.setdefault(key, value)
        self._first = first

    def __getitem__(self, key: str) -> str:
        return self._first[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._items if k == key]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __str__(self) -> str:
        return urlencode(self._items)

    def __repr__(self) -> str:
        return f"QueryParams({str(self)!r})"


class UploadFile:
    """A file from a multipart form, read as in Starlette or the Fetch API.

        file = (await request.form())["upload"]
        file.name, file.filename          # the client's file name (the same)
        file.size, file.content_type      # bytes, and the part's Content-Type
        data = await file.read()          # all of it; read(n) reads on from where the last read stopped

    The body is already in memory (the request's body limit caps it), so `content` holds
    the same bytes and reading never blocks.
    """

    __slots__ = ("_position", "content", "content_type", "filename")

    def __init__(self, filename: str, content: bytes, content_type: str) -> None:
        self.filename = filename
        self.content = content
        self.content_type = content_type
        self._position = 0

    @property
    def name(self) -> str:
        return self.filename

    @property
    def size(self) -> int:
        return len(self.content)

    async def read(self, size: int = -1) -> bytes:
        """The next `size` bytes (all that are left when `size` is negative), as a file reads."""
        start = self._position
        end = len(self.content) if size < 0 else min(start + size, len(self.content))
        self._position = end
        return self.content[start:end]

    async def seek(self, offset: int) -> None:
        self._position = max(0, min(offset, len(self.content)))

    def __repr__(self) -> str:
        return f"UploadFile({self.filename!r}, {len(self.content)} bytes, {self.content_type!r})"


class FormData(Mapping[str, "str | UploadFile"]):
    """Form fields, urlencoded or multipart; `getlist` for repeated fields."""

    __slots__ = ("_first", "_items")

    def __init__(self, items: list[tuple[str, str | UploadFile]]) -> None:
        self._items = items
        first: dict[str, str | UploadFile] = {}
        for key, value in items:
            first.setdefault(key, value)
        self._first = first

    def __getitem__(self, key: str) -> str | UploadFile:
        return self._first[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def getlist(self, key: str) -> list[str | UploadFile]:
        return [v for k, v in self._items if k == key]


class Request:
    """An HTTP request as a handler sees it."""

    __slots__ = (
        "_body",
        "_cookies",
        "_form",
        "_query",
        "_query_string",
        "client",
        "headers",
        "method",
        "params",
        "path",
        "raw_path",
        "scheme",
        "url",
    )

    # PERF: positional or keyword: the app passes them positionally, as keyword arguments
    # to a class call cost a dict built and unpacked again per request.
    def __init__(
        self,
        method: str,
        url: str,
        path: str,
        raw_path: str,
        query_string: str,
        headers: Headers,
        body: bytes,
        client: tuple[str, int] | None,
        scheme: str = "http",
        params: Mapping[str, str | list[str]] | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.path = path
        self.raw_path = raw_path
        self.scheme = scheme
        self._query_string = query_string
        self._query: QueryParams | None = None
        self.headers = headers
        self.client = client
        self.params: Mapping[str, str | list[str]] = params or {}
        self._body = body
        self._form: FormData | None = None
        self._cookies: dict[str, str] | None = None

    _frozen: ClassVar[bool] = False

    @property
    def query_string(self) -> str:
        """The query as sent, still encoded: `a=1&b=x%20y`."""
        return self._query_string

    @property
    def query(self) -> QueryParams:
        if self._query is None:
            self._query = QueryParams(self._query_string)
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            jar: SimpleCookie = SimpleCookie()
            for header in self.headers.getlist("cookie"):
                try:
                    jar.load(header)
                except Exception:
                    continue
            self._cookies = {k: m.value for k, m in jar.items()}
        return self._cookies

    def _check_readable(self) -> None:
        if self._frozen:
            raise ImmutableRequestError(
                "global middleware receives an immutable request: it may read the method, URL and "
                "headers but not the body. Read the body in route middleware or the handler."
            )

    async def body(self) -> bytes:
        self._check_readable()
        return self._body

    async def text(self) -> str:
        self._check_readable()
        return self._body.decode(_charset(self.headers.get("content-type", "")), errors="replace")

    async def json(self) -> Any:
        """The body as JSON (`None` when empty); `MalformedBody` (a 400) when it is not JSON."""
        self._check_readable()
        try:
            return _json.loads(self._body or b"null")
        except _json.JSONDecodeError as exc:
            raise _MalformedJSON(exc.msg, exc.doc, exc.pos) from None
        except ValueError as exc:  # not UTF-8, -16 or -32
            raise _MalformedJSON(str(exc), "", 0) from None

    async def form(self) -> FormData:
        """The body as a form (urlencoded or multipart); `MalformedBody` (a 400) when it cannot be one."""
        self._check_readable()
        if self._form is None:
            try:
                self._form = _parse_form(self.headers.get("content-type", ""), self._body)
            except ValueError as exc:  # no boundary, or python-multipart's parse errors
                raise MalformedBody(f"the body is not a form: {exc}") from None
        return self._form

    async def stream(self) -> AsyncIterator[bytes]:
        self._check_readable()
        if self._body:
            yield self._body

    def frozen(self) -> Request:
        """A view for global middleware: it may read the method, URL and headers only."""
        view = object.__new__(FrozenRequest)
        for name in Request.__slots__:
            object.__setattr__(view, name, getattr(self, name))
        object.__setattr__(view, "_body", b"")
        return view

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class FrozenRequest(Request):
    """The request global middleware receives: reading the body or changing it raises."""

    __slots__ = ()
    _frozen: ClassVar[bool] = True

    def __setattr__(self, name: str, value: Any) -> None:
        raise ImmutableRequestError(f"the request is immutable in global middleware; cannot set {name!r}")


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def _parse_form(content_type: str, body: bytes) -> FormData:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return _parse_multipart(content_type, body)
    # urlencoded, and a best effort for a form sent without a content type
    return FormData(list(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))


def _parse_multipart(content_type: str, body: bytes) -> FormData:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise ValueError("multipart/form-data without a boundary")
    items: list[tuple[str, str | UploadFile]] = []
    state: dict[str, Any] = {}

    def on_part_begin() -> None:
        state.update(headers={}, data=bytearray(), field=b"", value=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"] += data[start:end]

    def on_part_end() -> None:
        _disposition, params = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in params:
            kind = state["headers"].get(b"content-type", b"application/octet-stream").decode("latin-1")
            items.append((name, UploadFile(params[b"filename"].decode("utf-8", "replace"), bytes(state["data"]), kind)))
        else:
            items.append((name, bytes(state["data"]).decode("utf-8", "replace")))

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    parser.write(body)
    parser.finalize()
    return FormData(items)


_TEXT: Final = b"text/plain; charset=utf-8"


class Response:
    """An HTTP response: a str, bytes, or a (sync or async) iterator of chunks to stream."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, body: Body = None, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status = int(status)
        self.headers = MutableHeaders(headers)
        default_type = None
        if isinstance(body, str):
            body = body.encode("utf-8")
            default_type = _TEXT
        elif isinstance(body, bytes | bytearray | memoryview):
            body = bytes(body)
            default_type = b"application/octet-stream"
        elif body is None:
            body = b""
        if default_type is not None and (not headers or "content-type" not in self.headers):
            self.headers._raw.append((b"content-type", default_type))
        self.body: bytes | Iterable[bytes | str] | AsyncIterable[bytes | str] = body

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        payload = _json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
        response = cls(None, status=status, headers=headers)
        response.body = payload
        if headers and "content-type" in response.headers:
            del response.headers["content-type"]
        response.headers._raw.append((b"content-type", b"application/json"))
        return response

    @classmethod
    def redirect(cls, url: str, status: int = 307, headers: Mapping[str, str] | None = None) -> Response:
        response = cls(None, status=status, headers=headers)
        response.headers["location"] = url
        return response

    @property
    def streaming(self) -> bool:
        return not isinstance(self.body, bytes)

    def set_cookie(
        self,
        name: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: str | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
    ) -> None:
        jar: SimpleCookie = SimpleCookie()
        jar[name] = value
        morsel = jar[name]
        if max_age is not None:
            morsel["max-age"] = str(max_age)
        if expires is not None:
            morsel["expires"] = expires
        morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite:
            morsel["samesite"] = samesite
        self.headers.append("set-cookie", morsel.OutputString())

    def delete_cookie(self, name: str, *, path: str = "/", domain: str | None = None) -> None:
        self.set_cookie(name, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", path=path, domain=domain)

    def __repr__(self) -> str:
        return f"<Response {self.status}>"
