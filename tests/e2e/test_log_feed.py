"""The request log's feed: traces leave the serving process for the writer over a real Unix
socket (engine.feed), and `serve`'s writer process writes them whatever happens to `serve`."""

from __future__ import annotations

import asyncio
import marshal
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.feed import (
    BATCH_BYTES,
    FRAME,
    WIRE_VERSION,
    FeedError,
    LogFeed,
    LogServer,
    _fastwire,
    fast_frame,
    from_wire,
    to_frame,
    to_wire,
)
from engine.matcher import PURE_PYTHON_ENV
from engine.store import RequestLog
from engine.trace import Message, Span, Trace
from tests.conftest import ROUTECONSOLE, write_app

APP = {"items/[id]/route.py": "def GET(request, params):\n    return {'id': params['id']}\n"}

header_bytes = st.binary(max_size=40)
messages = st.builds(
    Message,
    headers=st.lists(st.tuples(header_bytes, header_bytes), max_size=5),
    body=st.binary(max_size=300),
    truncated=st.booleans(),
    size=st.integers(min_value=0, max_value=2**40),
)
spans = st.builds(
    Span,
    kind=st.sampled_from(["middleware", "handler", "cache"]),
    layer=st.sampled_from(["global", "layout", "route", "handler"]),
    name=st.text(max_size=20),
    file=st.none() | st.text(max_size=30),
    line=st.none() | st.integers(min_value=1, max_value=10**6),
    start_ms=st.floats(min_value=0, max_value=1e6),
    duration_ms=st.floats(min_value=0, max_value=1e6),
    outcome=st.none() | st.sampled_from(["next", "respond", "raise", "hit", "miss"]),
    context=st.lists(st.text(max_size=10), max_size=3),
    error=st.none() | st.text(max_size=50),
)
params = st.dictionaries(
    st.text(max_size=8), st.text(max_size=8) | st.lists(st.text(max_size=8), max_size=3), max_size=3
)
traces = st.builds(
    Trace,
    id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    time=st.floats(min_value=0, max_value=4e9),
    method=st.text(min_size=1, max_size=10),
    path=st.text(max_size=60),
    query=st.text(max_size=60),
    status=st.integers(min_value=100, max_value=599),
    duration_ms=st.floats(min_value=0, max_value=1e6),
    route=st.none()
    | st.fixed_dictionaries({"pattern": st.text(max_size=20), "file": st.text(max_size=20), "params": params}),
    request=messages,
    response=messages,
    spans=st.lists(spans, max_size=4),
    client=st.none() | st.tuples(st.text(max_size=15), st.integers(min_value=0, max_value=65535)),
    source=st.sampled_from(["external", "composer", "replay"]),
    replay_of=st.none() | st.integers(min_value=1, max_value=10**9),
)


@given(st.lists(traces, min_size=1, max_size=4))
def test_traces_cross_the_wire_unchanged(sent: list[Trace]) -> None:
    received = from_wire(to_frame([to_wire(trace) for trace in sent]))
    assert [trace.to_json() for trace in received] == [trace.to_json() for trace in sent]


# --- the same frames written in C (engine/_fastwire.c) ------------------------------------

fast = fast_frame()
needs_c = pytest.mark.skipif(fast is None, reason="engine._fastwire was not built (no C compiler)")
# Values route code may put in a trace: route params of any shape, ints of any size, floats
# of any kind, text with any character (a lone surrogate included).
odd_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text()
    | st.binary(max_size=20)
    | st.sampled_from([frozenset({1}), 1j, bytearray(b"x")]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3)
    ),
    max_leaves=8,
)


def canonical(value: object) -> bytes:
    """Equal for equal marshal data, NaN included (marshal writes its bits)."""
    return marshal.dumps(value, 2)


def _python_frame(sent: list[Trace]) -> bytes | None:
    try:
        return to_frame([to_wire(trace) for trace in sent])
    except ValueError:
        return None


@needs_c
@given(st.lists(traces, min_size=1, max_size=4), st.lists(odd_values, max_size=3))
def test_the_c_frame_holds_what_the_python_one_holds(sent: list[Trace], odd: list[object]) -> None:
    assert fast is not None
    for trace, value in zip(sent, odd, strict=False):
        if trace.route is not None:
            trace.route["params"] = {"odd": value}
        trace.spans.append(Span("cache", "route", "odd", None, None, 0.0, 0.0, None, [value], None))
    frame = fast(sent)
    python = _python_frame(sent)
    if frame is None:  # a value it does not write: Python packs that turn, as before
        return
    assert python is not None, "C wrote what marshal refuses"
    assert FRAME.unpack(frame[:4])[0] == len(frame) - 4
    assert canonical(marshal.loads(frame[4:])) == canonical(marshal.loads(python))
    try:  # the writer takes both or neither (an odd value in a span's context it refuses)
        received = [t.to_json() for t in from_wire(python)]
    except FeedError:
        with pytest.raises(FeedError):
            from_wire(frame[4:])
    else:
        assert [t.to_json() for t in from_wire(frame[4:])] == received


@needs_c
@given(st.lists(traces, min_size=1, max_size=4))
def test_the_c_frame_takes_every_ordinary_trace(sent: list[Trace]) -> None:
    """Route params of str and lists of str, sizes up to 2**40: always the C way."""
    assert fast is not None
    frame = fast(sent)
    assert frame is not None
    assert [t.to_json() for t in from_wire(frame[4:])] == [t.to_json() for t in sent]


@needs_c
@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: setattr(t, "path", "\ud800"),  # a lone surrogate: marshal needs surrogatepass
        lambda t: setattr(t, "replay_of", 2**70),
        lambda t: setattr(t, "client", "127.0.0.1"),
        lambda t: setattr(t.request, "body", bytearray(b"x")),
        lambda t: t.spans.append("not a span"),
        lambda t: delattr(t, "query"),
        lambda t: setattr(t.response, "body", b"x" * (BATCH_BYTES + 1)),
    ],
)
def test_what_the_c_frame_does_not_write_goes_the_python_way(spoil: Callable[[Trace], None]) -> None:
    assert fast is not None
    trace = _trace(1)
    spoil(trace)
    assert fast([_trace(0), trace]) is None


@needs_c
@pytest.mark.parametrize("limit", [100, 5_000, BATCH_BYTES])
@pytest.mark.parametrize("spare", [-20, 0, 3, 40, 1_000])
def test_a_c_frame_never_holds_more_than_its_limit(limit: int, spare: int) -> None:
    """Whatever the write that crosses it (a body, or one of many small strings after it)."""
    encoder = _fastwire.Encoder(Trace, Message, Span, WIRE_VERSION, limit)
    trace = _trace(1)
    trace.response.body = b"x" * max(0, limit - 400 + spare)
    trace.spans.append(Span("cache", "route", "n", None, None, 0.0, 0.0, None, ["y" * 10] * 200, None))
    unbounded = _fastwire.Encoder(Trace, Message, Span, WIRE_VERSION, 2**31 - 1)([trace])
    assert unbounded is not None
    frame = encoder([trace])
    if len(unbounded) - 4 > limit:
        assert frame is None
    else:
        assert frame == unbounded
        assert canonical(marshal.loads(frame[4:])) == canonical(to_wire(trace))


def test_the_python_frames_serve_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert fast_frame() is None
    a, b = socket.socketpair()
    with a, b:
        trace = _trace(2)
        data, count = LogFeed(a)._pack([trace])
        assert (
            data == FRAME.pack(len(python := to_frame([to_wire(trace)]))) + python
        )  # marshal's, back-references and all
        assert count == 1 and from_wire(data[4:])[0].path == "/items/2"


@given(st.binary(max_size=2000))
def test_any_bytes_are_traces_or_a_feed_error(data: bytes) -> None:
    try:
        received = from_wire(data)
    except FeedError:
        return
    for trace in received:
        trace.to_json()  # whatever passed is a whole trace


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(traces, st.integers(min_value=0, max_value=14), st.sampled_from([b"x", 3.5, None, [1], {"a": b"b"}, (1,)]))
def test_a_trace_with_a_field_of_the_wrong_kind_is_refused(trace: Trace, field: int, wrong: object) -> None:
    wire = list(to_wire(trace))
    if type(wire[field]) is type(wrong) or (wrong is None and field in (8, 9, 11)):  # None: no route, client, original
        return  # not wrong for this field
    wire[field] = wrong
    with pytest.raises(FeedError):
        from_wire(to_frame([to_wire(_trace(1)), tuple(wire)]))


def _trace(n: int) -> Trace:
    trace = Trace.begin("GET", f"/items/{n}", f"n={n}", [(b"host", b"x")], ("127.0.0.1", 1))
    trace.finish(200)
    return trace


@contextmanager
def writer_at(path: Path) -> Iterator[tuple[LogServer, RequestLog]]:
    request_log = RequestLog(path)
    server = LogServer(request_log)
    server.start()
    try:
        yield server, request_log
    finally:
        server.stop()
        request_log.close()


def test_a_writer_keeps_every_good_frame_and_drops_the_bad(tmp_path: Path) -> None:
    with writer_at(tmp_path / "log.sqlite3") as (server, request_log):
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(server.address)
        for frame in (
            to_frame([to_wire(_trace(1))]),
            b"not marshal",
            marshal.dumps(("a", "tuple")),
            marshal.dumps(to_wire(_trace(9))),  # a trace, but not in a list: not a frame
            to_frame([to_wire(_trace(2))]),
        ):
            raw.sendall(FRAME.pack(len(frame)) + frame)
        raw.close()
        feed = LogFeed.connect(server.address)  # a second feed, after the first one went away
        feed.send(_trace(3))
        feed.close()
        deadline = time.monotonic() + 5
        while len(request_log.summaries()) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [r.query for r in request_log.summaries()] == ["n=1", "n=2", "n=3"]


def test_a_frame_longer_than_any_trace_closes_that_feed_only(tmp_path: Path) -> None:
    with writer_at(tmp_path / "log.sqlite3") as (server, request_log):
        liar = socket.socket(socket.AF_UNIX)
        liar.connect(server.address)
        liar.sendall(FRAME.pack(2**31) + b"x" * 100)
        assert liar.recv(10) == b""  # the writer hung up on it
        liar.close()
        feed = LogFeed.connect(server.address)
        feed.send(_trace(1))
        feed.close()
        deadline = time.monotonic() + 5
        while not request_log.summaries() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [r.query for r in request_log.summaries()] == ["n=1"]


def test_a_feed_faster_than_its_writer_waits_and_loses_nothing(tmp_path: Path) -> None:
    """More frames than the socket holds, sent at once: the surplus waits in the feed."""
    with writer_at(tmp_path / "log.sqlite3") as (server, _):
        feed = LogFeed.connect(server.address)
        for n in range(5000):
            feed.send(_trace(n))
        feed.close(timeout=30)
        assert feed.dropped == 0
    written = RequestLog(tmp_path / "log.sqlite3")
    try:
        assert [r.query for r in written.summaries()] == [f"n={n}" for n in range(5000)]
    finally:
        written.close()


def _serve(app: Path, log: Path, cwd: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [ROUTECONSOLE, "serve", str(app), "--port", "0", "--no-reload", "--log", str(log)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the writer can be found and waited for
    )
    assert proc.stdout is not None
    url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
    assert url, proc.communicate(timeout=10)
    return proc, url.group(0)


def _interrupt(proc: subprocess.Popen[str], log: Path) -> tuple[list[str], str]:
    """Ctrl-C to serve's whole process group; the paths its log holds, and what it wrote to stderr."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(10)
        assert _group_gone(proc.pid, 15), "the log writer outlived serve"
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=10)
    written = RequestLog(log)
    try:
        return [r.path for r in written.summaries()], err
    finally:
        written.close()


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_serve_stopped_or_killed_leaves_the_answered_requests_in_the_log(tmp_path: Path, how: signal.Signals) -> None:
    app = write_app(tmp_path / "app", APP)
    log = tmp_path / "log.sqlite3"
    proc, url = _serve(app, log)
    try:
        with httpx.Client(base_url=url, timeout=5) as client:
            for n in range(200):
                assert client.get(f"/items/{n}").status_code == 200
        if how == signal.SIGINT:  # Ctrl-C: the whole process group gets it, the writer too
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.kill()
        proc.wait(10)
        assert _group_gone(proc.pid, 15), "the log writer outlived serve"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    written = RequestLog(log)
    try:
        paths = [r.path for r in written.summaries()]
    finally:
        written.close()
    if how == signal.SIGKILL:
        # The traces of one turn of the event loop go to the writer right after that turn,
        # and the turn also sends their responses: a SIGKILL landing between the two (rarely:
        # a client must read the answer and the kill land within that turn) takes the trace
        # of the last request, which its client had. Everything before it is in the log.
        assert paths in ([f"/items/{n}" for n in range(200)], [f"/items/{n}" for n in range(199)])
    else:
        assert paths == [f"/items/{n}" for n in range(200)]


EXIT_IN_THE_SAME_TURN = """
import asyncio, os, sys
from engine.feed import LogFeed
from engine.trace import Trace

feed = LogFeed.connect(sys.argv[1])
if sys.argv[2] == "guarded":
    feed.send_before_exit()

async def main():
    trace = Trace.begin("GET", "/answered", "", [], None)
    trace.finish(200)
    feed.send(trace)  # in a running loop: held a moment, to go with others...
    os._exit(3)  # ...which route code ends first

asyncio.run(main())
"""


@pytest.mark.parametrize("guarded", [True, False])
def test_os_exit_right_after_an_answer_still_sends_its_trace(tmp_path: Path, guarded: bool) -> None:
    with writer_at(tmp_path / "log.sqlite3") as (server, request_log):
        mode = "guarded" if guarded else "bare"
        done = subprocess.run([sys.executable, "-c", EXIT_IN_THE_SAME_TURN, server.address, mode], timeout=30)
        assert done.returncode == 3
        deadline = time.monotonic() + (5 if guarded else 0.5)
        while not request_log.summaries() and time.monotonic() < deadline:
            time.sleep(0.02)
        # Without send_before_exit the turn's trace dies with the process: what the guard is for.
        assert [r.path for r in request_log.summaries()] == (["/answered"] if guarded else [])


STRANGE_PARAMS = {
    "items/[id]/route.py": "def GET(request, params):\n    return {'id': params['id']}\n",
    "odd/[id]/route.py": (
        "class User:\n    pass\n\n\n"
        "async def GET(request, params):\n"
        "    params['user'] = User()  # route code keeps its own object in params\n"
        "    return {'ok': True}\n"
    ),
}


def test_a_trace_that_cannot_be_packed_costs_only_its_own_row(tmp_path: Path) -> None:
    """Traces are packed together at the end of a turn of the event loop: one that marshal
    cannot write (a handler put an object into its params) is dropped with a warning, and the
    traces around it, in the same turn, are still logged."""
    app = write_app(tmp_path / "app", STRANGE_PARAMS)
    log = tmp_path / "log.sqlite3"
    proc, url = _serve(app, log)
    try:

        async def burst() -> list[int]:
            async with httpx.AsyncClient(base_url=url, timeout=5) as client:
                paths = [f"/items/{n}" if n % 3 else f"/odd/{n}" for n in range(30)]
                answers = await asyncio.gather(*(client.get(path) for path in paths))
            return [answer.status_code for answer in answers]

        assert asyncio.run(burst()) == [200] * 30
    finally:
        paths, err = _interrupt(proc, log)
    assert sorted(paths) == sorted(f"/items/{n}" for n in range(30) if n % 3), err
    assert "the trace of GET /odd/0 cannot be logged: unmarshallable object" in err


def test_ctrl_c_right_after_serve_starts_keeps_the_answered_request(tmp_path: Path) -> None:
    """The writer ignores Ctrl-C from its first instruction: interrupted while it still
    imports, it used to die with the request already answered unwritten."""
    app = write_app(tmp_path / "app", APP)
    log = tmp_path / "log.sqlite3"
    proc, url = _serve(app, log)
    try:
        assert httpx.get(f"{url}/items/1", timeout=5).status_code == 200
    finally:
        paths, err = _interrupt(proc, log)  # at once: the writer may not have finished importing
    assert paths == ["/items/1"], err


def test_a_turn_of_big_traces_goes_in_several_frames_and_an_oversized_one_alone_is_dropped(tmp_path: Path) -> None:
    """The traces of one turn share frames up to BATCH_BYTES of bodies (20 MiB of them would
    overflow one frame); a trace no frame can hold (route code sent 17 MB of headers) is
    dropped with a warning, not sent to make the writer hang up on the feed."""
    with writer_at(tmp_path / "log.sqlite3") as (server, request_log):
        feed = LogFeed.connect(server.address)

        async def one_turn() -> None:
            for n in range(20):
                trace = _trace(n)
                trace.response.body = bytes([n]) * (1024 * 1024)  # 20 MiB in all: more than one frame holds
                if n == 5:
                    trace.response.headers = [(b"x-huge", b"h" * (17 * 1024 * 1024))]
                feed.send(trace)  # held: one flush after this turn packs them all

        asyncio.run(one_turn())
        feed.close(timeout=30)
        assert feed.dropped == 1
        deadline = time.monotonic() + 10
        while len(request_log.summaries()) < 19 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(r.query for r in request_log.summaries()) == sorted(f"n={n}" for n in range(20) if n != 5)


def test_serve_run_beside_a_folder_named_engine_still_writes_its_log(tmp_path: Path) -> None:
    """`serve`'s writer runs `python -P -m engine.logwriter`: a project's own `engine` package
    in the working directory does not replace this one (it used to, and nothing was logged)."""
    project = tmp_path / "project"
    (project / "engine").mkdir(parents=True)
    (project / "engine" / "__init__.py").write_text('raise SystemExit("this is the user\'s engine")\n')
    app = write_app(tmp_path / "app", APP)
    log = tmp_path / "log.sqlite3"
    proc, url = _serve(app, log, cwd=project)
    try:
        assert httpx.get(f"{url}/items/7", timeout=5).status_code == 200
    finally:
        paths, err = _interrupt(proc, log)
    assert paths == ["/items/7"], err
