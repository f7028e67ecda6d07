from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("hello/<str:name>", views.hello, name="hello"),
    path("items/<int:item_id>", views.item),
    path("query", views.query),
    path("form", views.form),
    path("upload", views.upload),
    path("json", views.json_view),
    path("cookie/set", views.cookie_set),
    path("cookie/get", views.cookie_get),
    path("session", views.session_view),
    path("redirect", views.redirect_view),
    path("stream", views.stream),
    path("boom", views.boom),
    path("café", views.cafe),
]
