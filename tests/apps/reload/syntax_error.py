# Does not compile, on purpose: an edit that breaks the app (reload, HUP).
import os

def application(environ, start_response:
    return [b'never']  # broken-on-purpose
