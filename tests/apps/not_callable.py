"""A module whose `application` is not callable."""

application = 42
