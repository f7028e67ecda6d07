"""Settings of the browser test's project: production-like (DEBUG off, so Django serves neither
static files nor uploads; pyrite's `--static` mounts do), sqlite in the run's temporary directory."""

import os


def _required(name):
    """A path the script must give; a missing one fails at start-up with its name."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run this project through scripts/test-browser")
    return value


SECRET_KEY = "browser-test-only-secret-key-that-is-long-enough-for-django-checks"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "gallery",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "browser_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "browser_site.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _required("BROWSER_SITE_DB"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = _required("BROWSER_SITE_STATIC")
MEDIA_URL = "/media/"
MEDIA_ROOT = _required("BROWSER_SITE_MEDIA")
