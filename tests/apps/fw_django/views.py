import hashlib
import json

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt


def hello(request, name):
    return HttpResponse(f"Hello, {name}!", content_type="text/plain; charset=utf-8")


def item(request, item_id):
    return JsonResponse({"id": item_id})


def query(request):
    q = request.GET
    return JsonResponse({"a": q["a"], "b": q.getlist("b"), "c": q["c"]})


@csrf_exempt
def form(request):
    return JsonResponse(request.POST.dict())


@csrf_exempt
def upload(request):
    f = request.FILES["file"]
    data = f.read()
    return JsonResponse({
        "label": request.POST["label"],
        "filename": f.name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    })


@csrf_exempt
def json_view(request):
    body = json.loads(request.body)
    return JsonResponse({"sum": sum(body["numbers"]), "text": body["text"].upper()})


def cookie_set(request):
    response = HttpResponse("set", content_type="text/plain")
    response.set_cookie("flavour", "oatmeal")
    return response


def cookie_get(request):
    return JsonResponse({"flavour": request.COOKIES.get("flavour")})


def session_view(request):
    request.session["count"] = request.session.get("count", 0) + 1
    return JsonResponse({"count": request.session["count"]})


def redirect_view(request):
    return redirect("hello", name="redirected")


def stream(request):
    return StreamingHttpResponse((f"line {i}\n" for i in range(100)), content_type="text/plain")


def boom(request):
    raise RuntimeError("boom on purpose")


def cafe(request):
    return HttpResponse("café", content_type="text/plain; charset=utf-8")
