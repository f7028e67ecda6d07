"""Pyramid, unmodified, answering the routes tests/apps/fw_client.py checks
(tests/frameworks.rs). Pyramid renders an uncaught exception through an exception view; the one
here answers with Pyramid's own HTTPInternalServerError page. `validated` is the same app
wrapped in wsgiref.validate.validator."""

import hashlib
from wsgiref.validate import validator

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPException, HTTPFound, HTTPInternalServerError
from pyramid.response import Response
from pyramid.session import SignedCookieSessionFactory
from pyramid.view import exception_view_config, view_config


@view_config(route_name="hello")
def hello(request):
    return Response(f"Hello, {request.matchdict['name']}!", content_type="text/plain", charset="utf-8")


@view_config(route_name="item", renderer="json")
def item(request):
    return {"id": int(request.matchdict["item_id"])}


@view_config(route_name="query", renderer="json")
def query(request):
    return {"a": request.GET["a"], "b": request.GET.getall("b"), "c": request.GET["c"]}


@view_config(route_name="form", request_method="POST", renderer="json")
def form(request):
    return dict(request.POST)


@view_config(route_name="upload", request_method="POST", renderer="json")
def upload(request):
    f = request.POST["file"]
    data = f.file.read()
    return {
        "label": request.POST["label"],
        "filename": f.filename,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@view_config(route_name="json", request_method="POST", renderer="json")
def json_view(request):
    body = request.json_body
    return {"sum": sum(body["numbers"]), "text": body["text"].upper()}


@view_config(route_name="cookie_set")
def cookie_set(request):
    response = Response("set", content_type="text/plain")
    response.set_cookie("flavour", "oatmeal")
    return response


@view_config(route_name="cookie_get", renderer="json")
def cookie_get(request):
    return {"flavour": request.cookies.get("flavour")}


@view_config(route_name="session", renderer="json")
def session_view(request):
    request.session["count"] = request.session.get("count", 0) + 1
    return {"count": request.session["count"]}


@view_config(route_name="redirect")
def redirect_view(request):
    return HTTPFound(location=request.route_path("hello", name="redirected"))


@view_config(route_name="stream")
def stream(request):
    response = Response(content_type="text/plain")
    response.app_iter = (f"line {i}\n".encode() for i in range(100))
    return response


@view_config(route_name="boom")
def boom(request):
    raise RuntimeError("boom on purpose")


@view_config(route_name="cafe")
def cafe(request):
    return Response("café", content_type="text/plain", charset="utf-8")


@exception_view_config(Exception)
def server_error(exc, request):
    import traceback

    if isinstance(exc, HTTPException):
        return exc
    request.environ["wsgi.errors"].write(traceback.format_exc())
    return HTTPInternalServerError()


def make_app():
    with Configurator() as config:
        config.set_session_factory(SignedCookieSessionFactory("test-only-secret"))
        config.add_route("hello", "/hello/{name}")
        config.add_route("item", r"/items/{item_id:\d+}")
        config.add_route("query", "/query")
        config.add_route("form", "/form")
        config.add_route("upload", "/upload")
        config.add_route("json", "/json")
        config.add_route("cookie_set", "/cookie/set")
        config.add_route("cookie_get", "/cookie/get")
        config.add_route("session", "/session")
        config.add_route("redirect", "/redirect")
        config.add_route("stream", "/stream")
        config.add_route("boom", "/boom")
        config.add_route("cafe", "/café")
        config.scan(__name__)
        return config.make_wsgi_app()


application = make_app()
validated = validator(application)
