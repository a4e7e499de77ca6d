"""GET /files/latest: the newest report, without knowing its name.

A deliberate clash, to explore in the console: files/[...path] also matches /files/latest,
but a static segment beats a catch-all, so this file answers and the catch-all never sees
a file called "latest". `routeconsole check demo_app` reports it as a warning
(shadowed-catch-all); `routeconsole match demo_app /files/latest --explain` shows the
contest; in the console press p and pick it, or m and type /files/latest.
"""

from _lib.store import FILES

from engine import Response


def GET():
    newest = max(name for name in FILES if name.startswith("reports/"))
    return Response(FILES[newest], headers={"content-type": "text/csv", "x-file": newest})
