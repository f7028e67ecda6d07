"""Falcon, unmodified, answering the routes tests/apps/fw_client.py checks (tests/frameworks.rs).
Falcon has no session store: the session is an HMAC-signed cookie. `validated` is the same app
wrapped in wsgiref.validate.validator."""

import hashlib
import hmac
from wsgiref.validate import validator

import falcon

SECRET = b"test-only-secret"


def sign(value):
    mac = hmac.new(SECRET, value.encode(), hashlib.sha256).hexdigest()
    return f"{value}.{mac}"


def unsign(signed):
    value, _, mac = (signed or "").rpartition(".")
    return value if value and hmac.compare_digest(sign(value), signed) else None


class Hello:
    def on_get(self, req, resp, name):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"Hello, {name}!"


class Item:
    def on_get(self, req, resp, item_id):
        resp.media = {"id": item_id}


class Query:
    def on_get(self, req, resp):
        resp.media = {"a": req.get_param("a"), "b": req.get_param_as_list("b"), "c": req.get_param("c")}


class Form:
    def on_post(self, req, resp):
        form = req.get_media()
        resp.media = dict(form)


class Upload:
    def on_post(self, req, resp):
        result = {}
        for part in req.get_media():
            if part.name == "file":
                data = part.stream.read()
                result.update(filename=part.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest())
            elif part.name == "label":
                result["label"] = part.text
        resp.media = result


class Json:
    def on_post(self, req, resp):
        body = req.get_media()
        resp.media = {"sum": sum(body["numbers"]), "text": body["text"].upper()}


class CookieSet:
    def on_get(self, req, resp):
        resp.set_cookie("flavour", "oatmeal", secure=False, path="/")
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "set"


class CookieGet:
    def on_get(self, req, resp):
        resp.media = {"flavour": req.get_cookie_values("flavour")[0]}


class Session:
    def on_get(self, req, resp):
        values = req.get_cookie_values("session") or []
        count = int(unsign(values[0]) or 0) + 1 if values else 1
        resp.set_cookie("session", sign(str(count)), secure=False, path="/", http_only=True)
        resp.media = {"count": count}


class Redirect:
    def on_get(self, req, resp):
        raise falcon.HTTPFound("/hello/redirected")


class Stream:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = (f"line {i}\n".encode() for i in range(100))


class Boom:
    def on_get(self, req, resp):
        raise RuntimeError("boom on purpose")


class Cafe:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "café"


app = falcon.App()
app.req_options.auto_parse_form_urlencoded = False
app.add_route("/hello/{name}", Hello())
app.add_route("/items/{item_id:int}", Item())
app.add_route("/query", Query())
app.add_route("/form", Form())
app.add_route("/upload", Upload())
app.add_route("/json", Json())
app.add_route("/cookie/set", CookieSet())
app.add_route("/cookie/get", CookieGet())
app.add_route("/session", Session())
app.add_route("/redirect", Redirect())
app.add_route("/stream", Stream())
app.add_route("/boom", Boom())
app.add_route("/café", Cafe())

application = app
validated = validator(app)
