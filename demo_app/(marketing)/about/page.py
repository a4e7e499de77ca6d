"""An HTML page inside a route group: (marketing) adds no URL segment."""


def page(request, params):
    return """<!doctype html>
<html>
  <head><title>About the demo</title></head>
  <body>
    <h1>About</h1>
    <p>This API is served by routeconsole from the files in <code>demo_app/</code>.</p>
  </body>
</html>
"""
