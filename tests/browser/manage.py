"""`manage.py` of the browser test's Django project: run as `python tests/browser/manage.py
COMMAND` with tests/browser on PYTHONPATH; `scripts/test-browser` runs migrate, createsuperuser
and collectstatic through it before starting pyrite."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "browser_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
