"""One model for the browser test: a picture with a title (the non-ASCII text) and an uploaded
file (the 2 MiB image), edited through the admin."""
