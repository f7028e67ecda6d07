"""The admin pages of the model: the add form, the change list linking to each change page."""

from django.contrib import admin

from .models import Picture


@admin.register(Picture)
class PictureAdmin(admin.ModelAdmin):
    list_display = ["title", "image"]
