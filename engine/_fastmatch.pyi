from collections.abc import Callable

from .matcher import Match

class Lookup:
    def __init__(
        self,
        root: tuple[object, ...],
        statics: dict[str, tuple[object, ...] | None],
        match_type: type[Match],
        known: frozenset[str],
        careful: Callable[[str, str], Match],
        fallback: Callable[[str, str], Match],
        /,
    ) -> None: ...
    def __call__(self, method: str, path: str, /) -> Match: ...
