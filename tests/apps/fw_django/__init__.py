"""A Django project, unmodified Django, for tests/frameworks.rs: the routes fw_client.py checks
plus the admin. Its database and collected static files live where FW_DJANGO_DB and
FW_DJANGO_STATIC say (a temporary directory of the test)."""
