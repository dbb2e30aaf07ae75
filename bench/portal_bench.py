"""The portal under load on 127.0.0.1: report pages and exports, and on-demand statements.

Starts ``reportlib serve`` (uvicorn, one warm kernel) on a copy of the demo database, signs in
``--clients`` partner sessions, and for ``--seconds`` lets each of them ask, one request after
the other, for the seven reports of one partner-month on screen and as an export (a bounded
load test: it stops at the time limit or after ``--max-requests``). Then an analyst asks for
``--ondemand`` statements of partners not rendered yet, each timed from the request to its
workbook downloaded. Prints markdown (and ``bench/bench.py --only portal`` puts it in its file).

    python bench/portal_bench.py [--db sqlite:///data/reportlib.sqlite] [--seconds 30] [--clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARTNER, MONTH = "P001", "2026-10"
PASSWORD = "bench-password-1"
REPORTS = ("credit-topups", "credit-usage", "total-credit", "discounts", "revenue-detailed", "revenue-by-service",
           "revenue-by-account")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _copy_database(url: str, folder: Path) -> str:
    """A copy of the SQLite database (the bench adds its users to the copy, not to the demo)."""
    from reportlib.config import resolve_db_url

    url = resolve_db_url(url)
    if not url.startswith("sqlite:///"):
        return url
    source = Path(url.removeprefix("sqlite:///"))
    if not source.is_file():
        raise SystemExit(f"no database at {source}: run `make demo` (or reportlib demo) first")
    target = folder / "portal-bench.sqlite"
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # a consistent copy even if something writes to the demo meanwhile
    return f"sqlite:///{target}"


def _add_users(url: str) -> None:
    import sqlalchemy as sa

    from reportlib.db import engine_for, init_db
    from reportlib.portal.data import users
    from reportlib.portal.users import add_user

    init_db(url)
    with engine_for(url).begin() as conn:
        conn.execute(users.delete().where(users.c.name.in_(["bench-partner", "bench-analyst"])))
        add_user(conn, "bench-partner", "partner", PASSWORD, partner=PARTNER)
        add_user(conn, "bench-analyst", "analyst", PASSWORD)
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() >= 2


async def _sign_in(http) -> None:
    page = await http.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    response = await http.post("/login", data={"csrf": token, "name": http.user, "password": PASSWORD})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in of {http.user} answered {response.status_code}")


def _clients(base: str, user: str, count: int):
    import httpx

    made = []
    for _ in range(count):
        http = httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False,
                                 limits=httpx.Limits(max_connections=1))
        http.user = user
        made.append(http)
    return made


async def _load(base: str, server_pid: int, clients: int, seconds: float, max_requests: int) -> dict:
    """``clients`` sessions asking one request after another until the time or count runs out."""
    sessions = _clients(base, "bench-partner", clients)
    await asyncio.gather(*(_sign_in(s) for s in sessions))
    paths = [f"/reports{suffix}?report={name}&partner={PARTNER}&month={MONTH}"
             for name in REPORTS for suffix in ("", "/export")]
    timings: dict[str, list[float]] = {"page": [], "export": []}
    errors: list[str] = []
    sent = 0
    deadline = time.perf_counter() + seconds

    async def one_client(number: int, http) -> None:
        nonlocal sent
        index = number
        while time.perf_counter() < deadline and sent < max_requests:
            sent += 1
            path = paths[index % len(paths)]
            index += 1
            started = time.perf_counter()
            try:
                response = await http.get(path)
                body = response.content
                ok = response.status_code == 200 and (b"<table" in body or b"Nothing in this period" in body
                                                      if "/export" not in path else body[:2] == b"PK")
                if not ok:
                    errors.append(f"{path}: {response.status_code}")
            except Exception as exc:  # a refused or dropped connection is an error of the run
                errors.append(f"{path}: {type(exc).__name__}")
            timings["export" if "/export" in path else "page"].append(time.perf_counter() - started)

    cpu = _cpu_seconds(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(one_client(n, s) for n, s in enumerate(sessions)))
    wall = time.perf_counter() - started
    cpu = _cpu_seconds(server_pid) - cpu
    await asyncio.gather(*(s.aclose() for s in sessions))
    return {"timings": timings, "errors": errors, "wall": wall, "server_cpu": cpu}


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) the server process (or its kernels) has used so far."""
    import psutil

    process = psutil.Process(pid)
    processes = process.children(recursive=True) if children else [process]
    total = 0.0
    for one in processes:
        try:
            times = one.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


async def _ondemand(base: str, server_pid: int, partners: list[str]) -> dict:
    """Seconds from asking for each partner's statement to its workbook downloaded, and the CPU
    seconds the server and its kernel used for them."""
    (http,) = _clients(base, "bench-analyst", 1)
    await _sign_in(http)
    page = await http.get("/ondemand")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    seconds = []
    cpu = _cpu_seconds(server_pid), _cpu_seconds(server_pid, children=True)
    for partner in partners:
        started = time.perf_counter()
        response = await http.post("/ondemand", data={"csrf": token, "family": "statement", "partner": partner,
                                                      "month": MONTH})
        job = response.headers["location"]
        while True:
            status = (await http.get(f"{job}/status")).json()
            if status["status"] in ("done", "failed"):
                break
            await asyncio.sleep(0.02)
        if status["status"] != "done":
            raise RuntimeError(f"on-demand statement of {partner} failed: {status['error']}")
        result = status["result"]
        workbook = await http.get(f"/files/{result['folder']}/{result['period']}/{result['stem']}.xlsx")
        if workbook.status_code != 200 or workbook.content[:2] != b"PK":
            raise RuntimeError(f"the statement of {partner} could not be downloaded ({workbook.status_code})")
        seconds.append(time.perf_counter() - started)
    cpu = _cpu_seconds(server_pid) - cpu[0], _cpu_seconds(server_pid, children=True) - cpu[1]
    await http.aclose()
    return {"seconds": seconds, "server_cpu": cpu[0] / max(1, len(partners)), "kernel_cpu": cpu[1] / max(1, len(partners))}


def portal_section(db_url: str, seconds: float = 30, clients: int = 20, ondemand: int = 5,
                   max_requests: int = 200_000, log=print) -> list[str]:
    """The bench's portal section (markdown lines)."""
    from reportlib.db import connect
    from reportlib.statements.family import active_partners
    from tests.portal.server import start_server, stop_server

    work = Path(tempfile.mkdtemp(prefix="reportlib-portal-bench-"))
    try:
        url = _copy_database(db_url, work)
        _add_users(url)
        with connect(url) as conn:
            partners = [p for p in active_partners(conn) if p != PARTNER][:ondemand]
        log("portal: starting reportlib serve (one warm kernel)")
        server = start_server(url, work / "outputs", work / "server.log", "--quiet")
        try:
            import httpx

            deadline = time.monotonic() + 300
            while not httpx.get(f"{server.url}/healthz").json()["kernels_ready"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("the kernels did not warm up within 300 s")
                time.sleep(0.5)
            log(f"portal: {clients} clients for {seconds:.0f} s on {PARTNER} {MONTH}")
            busy = os.getloadavg()[0]
            load = asyncio.run(_load(server.url, server.process.pid, clients, seconds, max_requests))
            log(f"portal: {len(partners)} statements on demand")
            rendered = asyncio.run(_ondemand(server.url, server.process.pid, partners))
        finally:
            stop_server(server.process)
            log_text = (work / "server.log").read_text(errors="replace")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    everything = load["timings"]["page"] + load["timings"]["export"]
    lines = ["## Portal (`bench/portal_bench.py`): one partner-month, 127.0.0.1", "",
             f"{clients} signed-in partner sessions, each asking one request after the other for {seconds:.0f} s "
             f"(the seven reports of {PARTNER} {MONTH}, on screen and exported, in turn); "
             f"{len(everything):,} requests, {len(load['errors'])} errors, "
             f"{len(everything) / load['wall']:.1f} requests/s; the server used "
             f"{load['server_cpu'] / max(1, len(everything)) * 1000:.1f} ms of CPU a request "
             f"(load average at the start {busy:.1f} on {os.cpu_count()} cores).", "",
             "| requests | n | p50 ms | p95 ms | p99 ms | max ms |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, values in (("report pages", load["timings"]["page"]), ("exports (XLSX)", load["timings"]["export"]),
                          ("all", everything)):
        if values:
            lines.append(f"| {label} | {len(values):,} | {statistics.median(values) * 1000:.0f} | "
                         f"{_percentile(values, 0.95) * 1000:.0f} | {_percentile(values, 0.99) * 1000:.0f} | "
                         f"{max(values) * 1000:.0f} |")
    if load["errors"]:
        logged = [line for line in log_text.splitlines() if "ERROR" in line or "Error" in line][:5]
        lines += ["", "Errors (first 10): " + "; ".join(load["errors"][:10]),
                  *(["", "The server's log says:", "```", *logged, "```"] if logged else [])]
    times = rendered["seconds"]
    if times:
        lines += ["", f"On-demand statement ({MONTH}, warm kernel), request to workbook downloaded: median "
                      f"{statistics.median(times):.2f} s, max {max(times):.2f} s "
                      f"({', '.join(f'{s:.2f}' for s in times)}); CPU a statement: server "
                      f"{rendered['server_cpu']:.2f} s, kernel {rendered['kernel_cpu']:.2f} s."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database URL (default: the demo database)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--ondemand", type=int, default=5, help="statements rendered on demand")
    parser.add_argument("--max-requests", type=int, default=200_000)
    args = parser.parse_args(argv)
    os.environ.setdefault("REPORTLIB_HOME", str(ROOT))
    lines = portal_section(args.db, args.seconds, args.clients, args.ondemand, args.max_requests,
                           log=lambda m: print(m, file=sys.stderr, flush=True))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
