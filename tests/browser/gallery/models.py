"""A FileField rather than an ImageField: the test checks the upload byte for byte, which needs no
image decoding on the server, so the project needs nothing beyond Django (no Pillow)."""

from django.db import models


class Picture(models.Model):
    title = models.CharField(max_length=200)
    image = models.FileField(upload_to="pictures/")

    def __str__(self):
        return self.title
