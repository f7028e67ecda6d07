"""The client side of tests/frameworks.rs: every check one framework app must pass, over real
HTTP with `requests` (and one raw socket for an unencoded UTF-8 path).

    python fw_client.py FRAMEWORK BASE_URL [--admin STATIC_ROOT]

Every app under test (fw_flask, fw_bottle, fw_falcon, fw_pyramid, fw_django) answers the same
routes; only the framework's own 404/500 pages differ. Prints one line per check and, last,
`checks passed: N`; exits 1 at the first failure.
"""

import hashlib
import json
import os
import re
import socket
import sys
from urllib.parse import urlsplit

import requests

# What each framework's own error pages say (never pyrite's "<p>pyrite</p>" page).
NOT_FOUND = {
    "flask": "<h1>Not Found</h1>",
    "django": "<h1>Not Found</h1>",
    "bottle": "Error: 404 Not Found",
    "falcon": '"title": "404 Not Found"',
    "pyramid": "The resource could not be found.",
}
SERVER_ERROR = {
    "flask": "<h1>Internal Server Error</h1>",
    "django": "<h1>Server Error (500)</h1>",
    "bottle": "Error: 500 Internal Server Error",
    "falcon": '"title": "500 Internal Server Error"',
    "pyramid": "500 Internal Server Error",
}

checks = 0


def check(name, condition, detail=""):
    global checks
    if not condition:
        print(f"FAILED: {name}: {detail}", flush=True)
        sys.exit(1)
    checks += 1
    print(f"ok: {name}", flush=True)


def raw_get(base, path_bytes):
    """GET with the path's bytes sent as they are (no percent-encoding)."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"GET " + path_bytes + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def run(framework, base, static_root=None):
    s = requests.Session()
    not_pyrite = lambda r: "<p>pyrite</p>" not in r.text

    r = s.get(f"{base}/hello/world")
    check("path parameter", r.status_code == 200 and r.text == "Hello, world!", r.text)
    r = s.get(f"{base}/items/42")
    check("typed path parameter", r.status_code == 200 and r.json() == {"id": 42}, r.text)

    r = s.get(f"{base}/query", params=[("a", "1"), ("b", "two"), ("b", "three & four"), ("c", "é")])
    check("query arguments", r.json() == {"a": "1", "b": ["two", "three & four"], "c": "é"}, r.text)

    form = {"name": "Ada Lovelace", "lang": "Python 3", "note": "a&b=c ü"}
    r = s.post(f"{base}/form", data=form)
    check("url-encoded form", r.status_code == 200 and r.json() == form, r.text)

    payload = os.urandom(5 * 1024 * 1024)
    digest = hashlib.sha256(payload).hexdigest()
    r = s.post(
        f"{base}/upload",
        files={"file": ("payload.bin", payload, "application/octet-stream")},
        data={"label": "five mebibytes"},
    )
    check(
        "multipart upload of 5 MiB",
        r.status_code == 200
        and r.json() == {"label": "five mebibytes", "filename": "payload.bin", "size": len(payload), "sha256": digest},
        # An error page states its reason after its styles: show enough to reach it.
        f"{r.status_code} {r.text[:3000]}",
    )

    r = s.post(f"{base}/json", json={"numbers": [1, 2, 3.5], "text": "héllo"})
    check(
        "JSON request and response",
        r.status_code == 200
        and r.headers["Content-Type"].startswith("application/json")
        and r.json() == {"sum": 6.5, "text": "HÉLLO"},
        r.text,
    )

    r = s.get(f"{base}/cookie/set")
    check("cookie set", r.status_code == 200 and s.cookies.get("flavour") == "oatmeal", str(r.headers))
    r = s.get(f"{base}/cookie/get")
    check("cookie read back", r.json() == {"flavour": "oatmeal"}, r.text)

    counts = [s.get(f"{base}/session").json()["count"] for _ in range(3)]
    check("session keeps state", counts == [1, 2, 3], str(counts))
    other = requests.Session()
    check("sessions are per client", other.get(f"{base}/session").json()["count"] == 1)

    r = s.get(f"{base}/redirect", allow_redirects=False)
    check(
        "redirect",
        r.status_code in (301, 302, 303, 307) and r.headers["Location"].endswith("/hello/redirected"),
        f"{r.status_code} {r.headers}",
    )
    r = s.get(f"{base}/redirect")
    check("redirect followed", r.text == "Hello, redirected!" and len(r.history) == 1, r.text)

    r = s.get(f"{base}/stream", stream=True)
    pieces = list(r.iter_content(chunk_size=None))
    body = b"".join(pieces)
    expected = b"".join(b"line %d\n" % i for i in range(100))
    check(
        "streamed response",
        r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked" and body == expected,
        f"{r.headers} {body[:100]!r}",
    )

    r = s.get(f"{base}/no/such/page")
    check("framework's own 404", r.status_code == 404 and NOT_FOUND[framework] in r.text and not_pyrite(r), r.text[:300])
    r = s.get(f"{base}/boom")
    check("framework's own 500", r.status_code == 500 and SERVER_ERROR[framework] in r.text and not_pyrite(r), r.text[:300])

    for name in ["Zoë", "你好", "a b"]:
        r = s.get(f"{base}/hello/{name}")
        check(f"non-ASCII path parameter {name!r}", r.status_code == 200 and r.text == f"Hello, {name}!", r.text)
    r = s.get(f"{base}/café")
    check("non-ASCII route", r.status_code == 200 and r.text == "café", r.text)
    # A request-target is ASCII (RFC 9112 §3.2, RFC 3986): raw UTF-8 bytes are refused by the
    # server before the framework sees them; browsers and HTTP libraries percent-encode.
    head, body = raw_get(base, "/hello/Zoë".encode())
    check("raw UTF-8 path refused with 400", head.startswith("HTTP/1.1 400"), head)

    if framework == "django" and static_root:
        admin(base, static_root)


def admin(base, static_root):
    s = requests.Session()
    r = s.get(f"{base}/admin/", allow_redirects=False)
    check("admin requires a login", r.status_code == 302 and "/admin/login/" in r.headers["Location"], str(r.status_code))
    r = s.get(f"{base}/admin/login/?next=/admin/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', r.text)
    check("login page has a CSRF token", r.status_code == 200 and token and s.cookies.get("csrftoken"), r.text[:300])
    r = s.post(
        f"{base}/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": "admin",
            "password": "pyrite-admin-pw",
            "next": "/admin/",
        },
    )
    check(
        "admin login with the CSRF token",
        r.status_code == 200 and r.url.endswith("/admin/") and s.cookies.get("sessionid"),
        f"{r.status_code} {r.url} {r.text[:300]}",
    )
    check("admin index", "Site administration" in r.text and "Log out" in r.text, r.text[:300])
    css = re.search(r'href="(/static/admin/css/base\.css)"', r.text)
    check("admin index links its static files", css is not None, r.text[:500])
    r = s.get(base + css.group(1))
    with open(os.path.join(static_root, "admin", "css", "base.css"), "rb") as f:
        on_disk = f.read()
    check(
        "admin static file served by pyrite --static",
        r.status_code == 200 and r.content == on_disk and "Last-Modified" in r.headers
        and r.headers["Content-Type"].startswith("text/css"),
        f"{r.status_code} {r.headers}",
    )
    r = s.get(f"{base}/admin/auth/user/")
    check("admin user list", r.status_code == 200 and "admin" in r.text, str(r.status_code))


if __name__ == "__main__":
    framework, base = sys.argv[1], sys.argv[2].rstrip("/")
    static_root = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--admin" else None
    from importlib.metadata import version

    dist = {"flask": "Flask", "django": "Django", "bottle": "bottle", "falcon": "falcon", "pyramid": "pyramid"}
    print(f"framework: {dist[framework]} {version(dist[framework])}", flush=True)
    try:
        run(framework, base, static_root)
    except Exception as exc:  # a crash is a failed check, with what led to it
        print(f"FAILED: {type(exc).__name__}: {exc}", flush=True)
        raise
    print(f"checks passed: {checks}", flush=True)
