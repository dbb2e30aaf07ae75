"""reportlib's installed version, in its own module so that the runner and the CLI can name it
without importing the package's ``__init__`` (which imports the runner: an upward import)."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("reportlib")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"
