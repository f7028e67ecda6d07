"""The WSGI entry point pyrite loads as `browser_site.wsgi` (`application`)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "browser_site.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
