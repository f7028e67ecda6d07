"""The app's config; its label `gallery` names the admin URLs the browser opens."""

from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    default_auto_field = "django.db.models.BigAutoField"
