"""A replay as a JUnit XML report, the test report every CI system shows.

    write_text(Path("replay.xml"), to_junit(results))

One `testcase` per replayed entry, named `METHOD path #id`; an answer that differs is a
`failure` whose text is the diff, a request that could not be sent is an `error`. The
shape is the one Jenkins, GitLab, GitHub's test reporters and pytest's `--junitxml` share
(`testsuites` > `testsuite` > `testcase`).

The diffs are already masked (unless the replay was asked to `reveal`); control characters
from bodies become visible stand-ins, as everywhere else, which also keeps the XML valid
(XML 1.0 cannot carry most of them at all).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from .replay import ReplayResult
from .visible import visible

CLASSNAME: Final = "routeconsole.replay"
_NOT_XML: Final = re.compile("[\ud800-\udfff\ufffe\uffff]")  # what visible() leaves that XML 1.0 cannot carry


def to_junit(results: Sequence[ReplayResult], *, name: str = "routeconsole replay", at: datetime | None = None) -> str:
    failures = sum(not r.same and r.error is None for r in results)
    errors = sum(r.error is not None for r in results)
    seconds = sum(r.seconds for r in results)
    stamp = (at or datetime.now(UTC)).isoformat(timespec="seconds")
    counts = {"tests": str(len(results)), "failures": str(failures), "errors": str(errors), "skipped": "0"}
    root = ET.Element("testsuites", {"name": _text(name), **counts, "time": f"{seconds:.3f}"})
    suite = ET.SubElement(root, "testsuite", {**root.attrib, "timestamp": stamp})
    for r in results:
        label = _text(f"{r.method} {r.path} #{r.id}")
        case = ET.SubElement(suite, "testcase", {"name": label, "classname": CLASSNAME, "time": f"{r.seconds:.3f}"})
        old, new = r.status
        if r.error is not None:
            error = ET.SubElement(case, "error", {"type": "ReplayFailed", "message": _text(r.error)})
            error.text = _text(r.diff)
        elif not r.same:
            message = f"status {old} became {new}" if old != new else f"the {new} response differs"
            failure = ET.SubElement(case, "failure", {"type": "ResponseDiffers", "message": message})
            failure.text = _text(r.diff)
        if r.replay_id is not None:
            ET.SubElement(case, "system-out").text = f"replayed as log entry #{r.replay_id}"
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", visible(text, multiline=True))
