"""Imported by uses_helper.py; tests copy it with VERSION rewritten."""

VERSION = "template"
