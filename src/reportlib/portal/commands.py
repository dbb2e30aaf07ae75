"""``reportlib serve`` (the portal under uvicorn) and ``reportlib users ...`` (who may sign in)."""

from __future__ import annotations

import argparse
import sys


__all__ = ["add_serve", "add_users"]


def _cmd_serve(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from ..config import public_db_url, resolve_db_url
    from ..errors import ConfigError
    from .app import create_app

    app = create_app(args.db, args.out, kernels=args.kernels, https_only=args.secure_cookies,
                     rehearse=not args.no_rehearse)
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}. "
                          "Choose another --port (or --port 0 for any free one).") from None
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(app, log_level="warning" if args.quiet else "info", server_header=False,
                            proxy_headers=bool(args.forwarded_allow_ips),
                            forwarded_allow_ips=args.forwarded_allow_ips or None, timeout_graceful_shutdown=30)
    print(f"reportlib portal on http://{shown}:{port}/ (database {public_db_url(resolve_db_url(args.db))}, "
          f"outputs {app.state.settings.out}); Ctrl-C stops it.", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def add_serve(cli) -> None:
    """``reportlib serve``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    p = cli.subparsers.add_parser("serve", help="the web portal: sign in, reports on screen and in Excel, documents, "
                                     "statements and decks on demand")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only; "
                                                       "put a TLS reverse proxy in front for others, see README)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--db", metavar="URL", help="database URL (default: $REPORTLIB_DB or data/reportlib.sqlite)")
    p.add_argument("--out", metavar="DIR", help="outputs folder the catalogue lists (default: outputs/)")
    p.add_argument("--kernels", type=int, default=1, metavar="N",
                   help="warm kernels rendering on-demand requests (default 1; 0 turns on-demand rendering off)")
    p.add_argument("--secure-cookies", action="store_true",
                   help="send the session cookie over HTTPS only (behind a TLS reverse proxy)")
    p.add_argument("--forwarded-allow-ips", metavar="IPS",
                   help="trust X-Forwarded-For/-Proto from these proxy addresses (comma-separated, e.g. 127.0.0.1)")
    p.add_argument("--no-rehearse", action="store_true",
                   help="do not rehearse one statement in a scratch folder when the kernels start")
    p.add_argument("--quiet", action="store_true", help="no access log")
    p.set_defaults(handler=_cmd_serve)


def _password(prompt: str) -> str:
    """A password typed twice at a prompt, or one line of standard input when it is not a terminal."""
    import getpass

    from ..errors import ParameterError

    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ParameterError("users", ["no password on standard input"])
        return password
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise ParameterError("users", ["the two passwords differ"])
    return first


def _cmd_users(args: argparse.Namespace) -> int:
    from ..db import engine_for, init_db
    from . import users as u

    init_db(args.db)
    engine = engine_for(args.db)
    if args.action == "list":
        with engine.connect() as conn:
            rows = u.list_users(conn)
        if not rows:
            print("No portal users yet: reportlib users add NAME --role admin")
        for row in rows:
            state = "" if row["enabled"] else "  (disabled)"
            print(f"{row['name']:<20} {row['role']:<8} {row['partner_id'] or '':<10} "
                  f"password set {row['password_changed_at']:%Y-%m-%d %H:%M} UTC{state}")
        return 0
    if args.action == "demo":
        from .demo import demo_users_lines

        print("\n".join(demo_users_lines(args.db)))
        return 0
    name = u.normalise_name(args.name)
    if args.action == "add":
        password = _password(f"Password for {name}: ")
        with engine.begin() as conn:
            user = u.add_user(conn, name, args.role, password, partner=args.partner)
        print(f"Added {user.name} ({user.role}{' of ' + user.partner if user.partner else ''}).")
    elif args.action == "passwd":
        with engine.connect() as conn:
            u.get_user(conn, name)  # an unknown name is said before the password is asked
        password = _password(f"New password for {name}: ")
        with engine.begin() as conn:
            u.set_password(conn, name, password)
        print(f"New password set for {name}; its sessions have ended.")
    else:
        with engine.begin() as conn:
            u.set_enabled(conn, name, args.action == "enable")
        print(f"{name} {args.action}d." + (" Its sessions have ended." if args.action == "disable" else ""))
    return 0


def add_users(cli) -> None:
    """``reportlib users ...``; ``cli`` is the :class:`reportlib.cli.CommandLine`."""
    from .data import ROLES

    p = cli.subparsers.add_parser("users", help="portal users: add, list, disable, enable, passwd, demo")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user (password from a prompt, or one line of stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--partner", help="the partner account of a partner user, e.g. P001")
    actions.add_parser("list", help="every user, role, partner and state")
    for action, text in (("disable", "stop a user signing in (its sessions end)"), ("enable", "let a user sign in again"),
                         ("passwd", "set a new password (prompt or stdin; its sessions end)")):
        a = actions.add_parser(action, help=text)
        a.add_argument("name")
    actions.add_parser("demo", help="create or reset the demo users and print their log-ins once")
    for a in actions.choices.values():
        a.add_argument("--db", metavar="URL")
        a.set_defaults(handler=_cmd_users)
