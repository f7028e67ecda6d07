"""A module that imports fine but has no `application` attribute."""

something_else = "not the app"
