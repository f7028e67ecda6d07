"""The WSGI entry point; `validated` is the same app wrapped in wsgiref.validate.validator."""

import os
from wsgiref.validate import validator

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fw_django.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
validated = validator(application)
