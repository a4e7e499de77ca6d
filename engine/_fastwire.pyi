from .trace import Message, Span, Trace

class Encoder:
    def __init__(
        self, trace: type[Trace], message: type[Message], span: type[Span], version: int, limit: int, /
    ) -> None: ...
    def __call__(self, traces: list[Trace], /) -> bytes | None: ...
