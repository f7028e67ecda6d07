"""Bottle, unmodified, answering the routes tests/apps/fw_client.py checks (tests/frameworks.rs).
Bottle has no session store: the session is its signed cookie. `validated` is the same app
wrapped in wsgiref.validate.validator."""

import hashlib
import json
from wsgiref.validate import validator

import bottle
from bottle import Bottle, redirect, request, response

app = Bottle()
SECRET = "test-only-secret"


@app.get("/hello/<name>")
def hello(name):
    response.content_type = "text/plain; charset=utf-8"
    return f"Hello, {name}!"


@app.get("/items/<item_id:int>")
def item(item_id):
    return {"id": item_id}


@app.get("/query")
def query():
    q = request.query
    return {"a": q.getunicode("a"), "b": [v for v in q.decode().getall("b")], "c": q.getunicode("c")}


@app.post("/form")
def form():
    return {k: request.forms.getunicode(k) for k in request.forms.keys()}


@app.post("/upload")
def upload():
    f = request.files.get("file")
    data = f.file.read()
    return {
        "label": request.forms.getunicode("label"),
        "filename": f.raw_filename,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@app.post("/json")
def json_view():
    body = request.json
    return {"sum": sum(body["numbers"]), "text": body["text"].upper()}


@app.get("/cookie/set")
def cookie_set():
    response.set_cookie("flavour", "oatmeal", path="/")
    response.content_type = "text/plain"
    return "set"


@app.get("/cookie/get")
def cookie_get():
    return {"flavour": request.get_cookie("flavour")}


@app.get("/session")
def session_view():
    count = int(request.get_cookie("session", "0", secret=SECRET)) + 1
    response.set_cookie("session", str(count), secret=SECRET, path="/", httponly=True)
    return {"count": count}


@app.get("/redirect")
def redirect_view():
    redirect("/hello/redirected")


@app.get("/stream")
def stream():
    response.content_type = "text/plain"
    for i in range(100):
        yield f"line {i}\n".encode()


@app.get("/boom")
def boom():
    raise RuntimeError("boom on purpose")


@app.get("/café")
def cafe():
    response.content_type = "text/plain; charset=utf-8"
    return "café"


application = app
validated = validator(app)
