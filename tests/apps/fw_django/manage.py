"""`manage.py` of the test project: run as `python fw_django/manage.py COMMAND` with
tests/apps on PYTHONPATH."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fw_django.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
