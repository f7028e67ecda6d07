"""The Django project that `scripts/test-browser` serves with pyrite for a headless browser: the
admin plus one app (`gallery`) whose model has a text field and a file upload. Its database,
collected static files and uploads live where BROWSER_SITE_DB, BROWSER_SITE_STATIC and
BROWSER_SITE_MEDIA say (a temporary directory of the run); pyrite serves the last two itself
with `--static`, as a deployment would, so DEBUG stays off."""
