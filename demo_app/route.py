"""GET / : what this API offers."""


def GET(request):
    return {
        "name": "routeconsole demo API",
        "links": ["/users", "/users/1", "/users/1/posts", "/posts", "/posts/10/comments",
                  "/files/reports/2026/q3.csv", "/docs", "/about", "/status"],
    }
