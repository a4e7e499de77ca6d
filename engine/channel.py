"""One local channel from the app process to its supervisor: length-prefixed JSON over a pipe.

    frame = 4-byte big-endian length + that many bytes of UTF-8 JSON (one object)

Why this shape: the messages are small dicts (a batch of log rows, a reload's problems, a
log record); JSON is in the standard library and readable when debugging; a pipe needs no
path or port, is private to the two processes, and closes by itself when either dies (the
reader sees EOF, the writer EPIPE). The length prefix makes a frame whole or absent: a
reader never parses half a message.

The writer never blocks the code that sends: frames go through a queue to a thread of
their own, so a console that stops reading (a busy UI, a stopped terminal) cannot stall
the app's event loop. When the reader has gone, frames are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import struct
import threading
from collections.abc import Iterator
from typing import Any, Final

HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 64 * 1024 * 1024  # a bound on what a reader accepts, far above any real message


class ChannelError(Exception):
    """A frame that cannot be read: the other side wrote something that is not a frame."""


class ChannelWriter:
    """The app process's end: `send(message)` queues a frame and returns at once."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._open = True
        self._thread = threading.Thread(target=self._write, name="routeconsole-channel", daemon=True)
        self._thread.start()

    def send(self, message: dict[str, Any]) -> None:
        if self._open:
            data = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")
            self._frames.put(HEADER.pack(len(data)) + data)

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (for up to `timeout` seconds), then close the pipe."""
        self._frames.put(None)
        self._thread.join(timeout)

    def _write(self) -> None:
        while (frame := self._frames.get()) is not None:
            if not self._open:
                continue
            try:
                view = memoryview(frame)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError:  # the supervisor has gone: nobody reads any more
                self._open = False
        self._open = False
        with contextlib.suppress(OSError):
            os.close(self._fd)


def read_frames(fd: int) -> Iterator[dict[str, Any]]:
    """Every message on the pipe `fd` until the writer closes it (or dies). Closes `fd`."""
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            head = _read_exactly(pipe, HEADER.size)
            if head is None:
                return
            (size,) = HEADER.unpack(head)
            if size > MAX_FRAME:
                raise ChannelError(f"a frame of {size:,} bytes: the channel is out of step")
            data = _read_exactly(pipe, size)
            if data is None:
                return  # the writer died mid-frame: what it was saying is lost, not misread
            try:
                message = json.loads(data)
            except ValueError as exc:
                raise ChannelError(f"a frame that is not JSON: {exc}") from exc
            if not isinstance(message, dict):
                raise ChannelError(f"a frame that is not an object: {type(message).__name__}")
            yield message


def _read_exactly(pipe: Any, size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = pipe.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
