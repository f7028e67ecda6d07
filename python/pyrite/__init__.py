"""pyrite: a web server for static files and Python WSGI applications.

The `pyrite` command this package installs and `python -m pyrite` both call `main()`, which runs
the server (written in Rust, in the `_pyrite` extension module) inside this interpreter: the
master binds and supervises without running any Python code, and each worker serves the app
with this interpreter, so `sys.executable`, `sys.prefix`, `multiprocessing` and C extensions
behave as under `python -m`. The app may catch `pyrite.RequestTimeout` (raised in it past
`--timeout`).
"""

import sys

__all__ = ["main", "RequestTimeout", "__version__"]


def main(argv=None):
    """Runs pyrite with `argv` (default: `sys.argv[1:]`) and returns its exit code."""
    try:
        from pyrite import _pyrite
    except ImportError as exc:
        sys.stderr.write("pyrite: error: " + _why_not_importable(exc) + "\n")
        return 1
    args = sys.argv[1:] if argv is None else list(argv)
    return _pyrite.run(["pyrite"] + args)


def __getattr__(name):
    # `RequestTimeout` and `__version__` come from the extension, loaded on first use.
    if name in ("RequestTimeout", "__version__"):
        from pyrite import _pyrite

        return getattr(_pyrite, name)
    raise AttributeError("module 'pyrite' has no attribute " + repr(name))


def _why_not_importable(exc):
    """Names the likeliest cause: an extension built for another Python X.Y."""
    import glob
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    built = sorted(os.path.basename(p) for p in glob.glob(os.path.join(here, "_pyrite*.so")))
    name = {"cpython": "CPython", "pypy": "PyPy"}.get(sys.implementation.name, sys.implementation.name)
    running = "{} {}.{}.{} ({})".format(name, *sys.version_info[:3], sys.executable or "?")
    tag = sys.implementation.cache_tag or ""
    if built and not any(tag and ("." + tag + "-") in name for name in built):
        return (
            "this pyrite was built for another Python ({}) and cannot run under {}; "
            "install it with this interpreter: {} -m pip install --force-reinstall pyrite".format(
                ", ".join(built), running, sys.executable or "python"
            )
        )
    return "cannot load pyrite's extension module under {}: {}".format(running, exc)
