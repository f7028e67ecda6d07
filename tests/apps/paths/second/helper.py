"""Found only through the second --pythonpath."""

VALUE = "from the second path"
