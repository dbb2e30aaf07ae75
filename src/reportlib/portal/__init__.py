"""The web portal (``reportlib serve``): partners and the business sign in, choose a report and
its conditions, export it to Excel, find their documents and render statements and decks on demand.

``app`` is the Starlette application; ``users`` the accounts, sessions and throttling;
``reports`` the seven portal reports; ``catalogue`` the documents under ``outputs/``;
``ondemand`` the warm kernel pool; ``commands`` the ``serve`` and ``users`` commands;
``data`` the tables. The package imports its parts when first asked for them: ``reportlib
init`` imports the tables, not the web server.
"""

from ..lazy import lazy_exports

__all__ = ["Catalogue", "RenderPool", "User", "create_app"]
__getattr__, __dir__ = lazy_exports(__name__, {"Catalogue": ".catalogue", "RenderPool": ".ondemand", "User": ".users",
                                               "create_app": ".app"})
