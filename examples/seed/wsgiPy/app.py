"""The seed demo's WSGI application (PEP 3333), standard library only.

It renders an HTML page showing the environ it received, sorted, and echoes a submitted
form: fields come from QUERY_STRING on GET and from the urlencoded request body on POST.
"""

import html
from urllib.parse import parse_qsl

FORM_TYPE = "application/x-www-form-urlencoded"


def read_form(environ):
    """The submitted fields as a list of (name, value) pairs, in order."""
    if environ.get("REQUEST_METHOD") == "POST":
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip()
        if content_type != FORM_TYPE:
            return []
        return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    # PEP 3333: QUERY_STRING is a latin-1 str; recover the bytes, then decode as utf-8.
    query = environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8", "replace")
    return parse_qsl(query, keep_blank_values=True)


def rows(pairs):
    """Table rows for (key, value) pairs; non-str values are shown by their repr()."""
    lines = []
    for key, value in pairs:
        text = value if isinstance(value, str) else repr(value)
        lines.append("    <tr><th>%s</th><td>%s</td></tr>" % (html.escape(key), html.escape(text)))
    return "\n".join(lines)


def render(environ, fields):
    e = html.escape
    names = [v for k, v in fields if k == "name" and v]
    greeting = "<h1>Hello, %s!</h1>" % e(names[0]) if names else "<h1>Hello!</h1>"
    if fields:
        form = "<table>\n%s\n  </table>" % rows(fields)
    else:
        form = "<p>No form fields were submitted.</p>"
    return """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>pyrite seed app</title>
</head>
<body>
  %(greeting)s
  <p>%(method)s %(path)s, served by a WSGI application.</p>
  <h2>Submitted form</h2>
  %(form)s
  <h2>environ</h2>
  <table>
%(environ)s
  </table>
  <p><a href="/">Back to the index</a></p>
</body>
</html>
""" % {
        "greeting": greeting,
        "method": e(environ.get("REQUEST_METHOD", "")),
        "path": e(environ.get("PATH_INFO", "")),
        "form": form,
        "environ": rows(sorted(environ.items())),
    }


def application(environ, start_response):
    fields = read_form(environ)
    body = render(environ, fields).encode("utf-8")
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]
