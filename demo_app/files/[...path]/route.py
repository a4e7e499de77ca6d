"""GET /files/[...path]: downloads; the catch-all gives the path as a list of segments."""

from _lib.store import FILES

from engine import Response


def GET(params):
    name = "/".join(params["path"])
    content = FILES.get(name)
    if content is None:
        return Response(f"no file {name}\n", status=404)
    kind = "text/csv" if name.endswith(".csv") else "text/plain"
    return Response(
        content,
        headers={"content-type": kind, "content-disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"'},
    )
