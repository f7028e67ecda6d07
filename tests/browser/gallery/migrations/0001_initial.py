"""The gallery's table, as `makemigrations` (Django 5.2.8) wrote it; the script runs `migrate`."""

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Picture",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=200)),
                ("image", models.FileField(upload_to="pictures/")),
            ],
        ),
    ]
