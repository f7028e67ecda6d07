"""Flask, unmodified, answering the routes tests/apps/fw_client.py checks (tests/frameworks.rs).
`validated` is the same app wrapped in wsgiref.validate.validator, seen by the validator without
the `wsgi.input_terminated` key (see `_before_input_terminated`)."""

import hashlib
from wsgiref.validate import validator

from flask import Flask, Response, jsonify, redirect, request, session, url_for

app = Flask(__name__)
app.secret_key = "test-only-secret"


@app.get("/hello/<name>")
def hello(name):
    return Response(f"Hello, {name}!", mimetype="text/plain")


@app.get("/items/<int:item_id>")
def item(item_id):
    return jsonify(id=item_id)


@app.get("/query")
def query():
    return jsonify(a=request.args["a"], b=request.args.getlist("b"), c=request.args["c"])


@app.post("/form")
def form():
    return jsonify(request.form.to_dict())


@app.post("/upload")
def upload():
    f = request.files["file"]
    data = f.read()
    return jsonify(
        label=request.form["label"],
        filename=f.filename,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


@app.post("/json")
def json_view():
    body = request.get_json()
    return jsonify(sum=sum(body["numbers"]), text=body["text"].upper())


@app.get("/cookie/set")
def cookie_set():
    response = Response("set", mimetype="text/plain")
    response.set_cookie("flavour", "oatmeal")
    return response


@app.get("/cookie/get")
def cookie_get():
    return jsonify(flavour=request.cookies.get("flavour"))


@app.get("/session")
def session_view():
    session["count"] = session.get("count", 0) + 1
    return jsonify(count=session["count"])


@app.get("/redirect")
def redirect_view():
    return redirect(url_for("hello", name="redirected"))


@app.get("/stream")
def stream():
    def lines():
        for i in range(100):
            yield f"line {i}\n"

    return Response(lines(), mimetype="text/plain")


@app.get("/boom")
def boom():
    raise RuntimeError("boom on purpose")


@app.get("/café")
def cafe():
    return Response("café", mimetype="text/plain")


def _before_input_terminated(wrapped):
    """wsgiref.validate predates the `wsgi.input_terminated` extension: its `wsgi.input` wrapper
    asserts that every read() is given a size, and Werkzeug calls read() without one exactly
    when the server sets `wsgi.input_terminated` (as pyrite and gunicorn do). Without the key,
    Werkzeug reads CONTENT_LENGTH bytes in sized reads, and everything else the server passes
    is still checked by the validator."""

    def middleware(environ, start_response):
        environ = dict(environ)
        environ.pop("wsgi.input_terminated", None)
        return wrapped(environ, start_response)

    return middleware


application = app
validated = _before_input_terminated(validator(app))
