"""The kernel pool: ``reportlib pool`` keeps warm workers, ``reportlib run`` uses them when one is up.

- :mod:`.client` (light: the standard library and :mod:`reportlib.config` only): where a
  project's pool listens, the fingerprint of the code a run would use, and sending a command to
  the pool, so that ``reportlib run`` decides "pool or cold" without importing the runner.
- :mod:`.server`: the ``reportlib pool`` process: the socket, its worker processes, idle exit.
- :mod:`.worker`: one worker: a warm engine, and the commands it runs for clients.

Nothing here is imported by ``import reportlib.pool`` beyond this docstring.
"""

__all__: list[str] = []
