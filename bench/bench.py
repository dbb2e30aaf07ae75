"""``make bench``: reportlib's batch engine against a plain papermill CLI loop, side by side.

Everything is measured in this one run on this machine, as wall-clock medians of
``--repeat`` repetitions, each a fresh process tree (peak memory is the largest resident
size of the whole tree: CLI, workers, kernels). Writes ``bench/results/<date>.md``.

    python bench/bench.py --db sqlite:///data/bench-large.sqlite --n 16 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The QBR comparison is what the goals are about; statements always exist.
COMPARED = ("statement", "qbr")
SINGLE = ("dashboard",)  # the amendment has its own 60,000-code bench (bench/amendment_60k.py)
# Parameters of a single run when the family has no params/<family>.yaml.
DEFAULTS = {"statement": {"partner": "P001", "month": "2026-10"}, "dashboard": {"month": "2026-10"},
            "qbr": {"partner": "P001", "quarter": "2026Q3"},
            "amendment": {"customer": "C001", "rate_plan": "Retail USD"}}


class PeakMemory:
    """Largest summed resident memory of a process and all its descendants, in MB."""

    def __init__(self, pid: int, interval: float = 0.1):
        import psutil

        self.root, self.interval, self.peak = psutil.Process(pid), interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                total = 0
                for proc in procs:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
                self.peak = max(self.peak, total / 1e6)
            except psutil.Error:
                return
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``command``; return (seconds, peak MB of its process tree). Raise if it fails."""
    seconds, mb, _ = timed_cpu(command, env)
    return seconds, mb


def timed_cpu(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run ``command``; return (seconds, peak MB, CPU seconds: user + system of its process tree,
    every process it and its children waited for). Raise if it fails. On a shared machine the
    CPU seconds compare two commands where wall-clock ratios mislead."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = PeakMemory(process.pid)
    _, err = process.communicate()
    seconds = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    mb = peak.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed ({process.returncode}):\n{err.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, mb, cpu


def ensure_demo_data(url: str, names: list[str], log) -> None:
    """Add the large demo data of every installed family whose domain is still empty."""
    from reportlib.db import connect, data_fingerprint, init_db

    # A database built by an earlier release gets the indexes declared since (once).
    init_db(url)
    for name in names:
        family = family_or_none(name)
        if family is None:
            continue
        with connect(url) as conn:
            present = data_fingerprint(conn, family.domain) is not None
        if not present:
            log(f"building the large demo data of the {family.domain} domain (once)")
            subprocess.run([str(BIN / "reportlib"), "demo", "--scale", "large", "--domain", family.domain,
                            "--db", url], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def family_or_none(name: str):
    from reportlib.families import FAMILIES

    return FAMILIES.get(name) if name in FAMILIES else None


def batch_raw(family) -> dict:
    """The batch parameters from ``params/<family>.yaml`` (or DEFAULTS): the keys the batch class knows."""
    import dataclasses

    from reportlib.params import load_params_file

    path = ROOT / "params" / f"{family.name}.yaml"
    raw = load_params_file(path) if path.is_file() else DEFAULTS.get(family.name, {})
    known = {f.name for f in dataclasses.fields(family.batch_params)}
    return {k: v for k, v in raw.items() if k in known}


def entities(family, url: str, n: int) -> list[dict]:
    from reportlib.db import connect

    with connect(url) as conn:
        return family.entities(conn, family.batch_params.parse(batch_raw(family)))[:n]


def papermill_loop(family, url: str, runs: list[dict], work: Path) -> tuple[list[float], float]:
    """The plain way: one ``papermill`` CLI process (and kernel) per report; each run's seconds."""
    from reportlib.run import notebook_path

    notebook = notebook_path(family)
    each, peak = [], 0.0
    for i, raw in enumerate(runs):
        out = work / f"pm-{i}"
        out.mkdir(parents=True)
        params = dict(raw, db_url=url, output_dir=str(out), output_stem=f"r{i}")
        command = [str(BIN / "papermill"), str(notebook), str(out / "executed.ipynb"), "--no-progress-bar",
                   "--log-level", "WARNING"]
        for key, value in params.items():
            command += ["-p", key, str(value)]
        seconds, mb = timed(command)
        each.append(seconds)
        peak = max(peak, mb)
    return each, peak


def our_batch(family, url: str, n: int, work: Path, workers: int, engine: str = "warm") -> tuple[float, float]:
    return timed(our_batch_command(family, url, n, work, workers, engine))


def our_batch_command(family, url: str, n: int, work: Path, workers: int, engine: str = "warm") -> list[str]:
    command = [str(BIN / "reportlib"), "batch", family.name, "--db", url, "--out", str(work), "--limit", str(n),
               "--workers", str(workers), "--engine", engine, "--force", "--quiet"]
    for key, value in batch_raw(family).items():
        command += ["-p", key, str(value)]
    return command


def median(values: list[float]) -> float:
    return statistics.median(values)


def compare(family, url: str, n: int, repeat: int, workers: int, lines: list[str], notes: list[str], log,
            papermill_n: int) -> None:
    runs = entities(family, url, n)
    if len(runs) < n:
        lines.append(f"| {family.name} | only {len(runs)} entities in the data (asked for {n}) | | | | |")
        n = len(runs)
    # Every papermill run is a whole process that starts from nothing, so its time is the same
    # for any entity: a few runs per repetition give its median (on the large data one QBR run
    # is ~30 s, since the plain notebook computes all partners' metrics each time).
    pm_runs = runs[:max(1, min(n, papermill_n))]
    loop, batch1, batchn, peaks = [], [], [], {"pm": 0.0, "w1": 0.0, "wn": 0.0}
    cells: list[list[float]] = []
    for r in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rlbench-") as tmp:
            work = Path(tmp)
            log(f"{family.name}: repetition {r + 1}/{repeat}: papermill CLI loop over {len(pm_runs)}")
            each, mb = papermill_loop(family, url, pm_runs, work / "pm")
            loop.extend(each)
            peaks["pm"] = max(peaks["pm"], mb)
            log(f"{family.name}: repetition {r + 1}/{repeat}: reportlib batch, 1 worker")
            seconds, mb = our_batch(family, url, n, work / "w1", 1)
            batch1.append(seconds / n)
            peaks["w1"] = max(peaks["w1"], mb)
            cells.extend(cell_seconds(work / "w1"))
            log(f"{family.name}: repetition {r + 1}/{repeat}: reportlib batch, {workers} workers")
            seconds, mb = our_batch(family, url, n, work / "wn", workers)
            batchn.append(seconds / n)
            peaks["wn"] = max(peaks["wn"], mb)
    if cells:
        # the first run of each kernel pays the imports: look at the warm ones
        warm_runs = [c for c in cells if sum(c) < 2 * median([sum(x) for x in cells])]
        per_cell = [median(col) for col in zip(*warm_runs)]
        notes.append(f"- {family.name}: inside the kernel a warm run spends {sum(per_cell):.2f} s in its cells "
                     f"(median per code cell: {', '.join(f'{x:.2f}' for x in per_cell)}); the rest of a "
                     "report's time is start-up (CLI, kernel, first imports) shared by the batch, the HTML "
                     "export and the manifest.")
    base = median(loop)
    for label, values, peak in ((f"`papermill` CLI loop (median of {len(loop)} runs)", loop, peaks["pm"]),
                                ("`reportlib batch --workers 1` (warm)", batch1, peaks["w1"]),
                                (f"`reportlib batch --workers {workers}` (warm)", batchn, peaks["wn"])):
        per = median(values)
        lines.append(f"| {family.name} × {n} | {label} | {per:.3f} | {60 / per:.1f} | {base / per:.1f}× | "
                     f"{peak:.0f} |")


def cell_seconds(folder: Path) -> list[list[float]]:
    """Each executed notebook's cell durations (papermill records them), in seconds."""
    import json

    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        found.append([(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
                      for c in nb["cells"] if c["cell_type"] == "code"])
    return found


def prepare_time(family, url: str, repeat: int) -> tuple[str, float | None, int]:
    """How long the family's vectorised preparation takes for all entities of the batch (and how many)."""
    from reportlib.db import connect

    batch_params = family.batch_params.parse(batch_raw(family))
    with connect(url) as conn:
        count = len(family.entities(conn, batch_params))
    if family.prepare is None:
        return (f"| {family.name} preparation | not available: the {family.name} family has no prepare hook | |",
                None, count)
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rlbench-prep-") as tmp, connect(url) as conn:
            clock = time.perf_counter()
            runs = family.entities(conn, batch_params)
            family.prepare(conn, batch_params, runs, Path(tmp))
            times.append(time.perf_counter() - clock)
    return f"| {family.name} preparation, {count:,} entities | {median(times):.2f} | |", median(times), count


def at_scale(family, url: str, n: int, workers: int, prepared_s: float | None, total: int, log) -> list[str]:
    """One larger batch (every entity when ``n`` is all of them): its wall time and peak memory,
    its steady rate (from the runs' start times, past the first 50), and what that rate makes of
    10,000 reports with the same start-up and preparation."""
    import json
    from datetime import datetime as dt

    log(f"{family.name}: one batch of {n:,} with {workers} workers")
    with tempfile.TemporaryDirectory(prefix="rlbench-scale-") as tmp:
        seconds, mb = our_batch(family, url, n, Path(tmp), workers)
        starts = sorted(dt.fromisoformat(json.loads(p.read_text(encoding="utf-8"))["started_at"])
                        for p in Path(tmp).rglob("*.manifest.json"))
    skip = min(50, len(starts) // 4)
    if len(starts) - skip >= 2:
        steady = (starts[-1] - starts[skip]).total_seconds() / (len(starts) - skip - 1)
    else:
        steady = seconds / max(n, 1)
    fixed = max(seconds - steady * n, 0.0)  # start-up, preparation, the first runs' imports, the end
    which = f"every active entity ({n:,})" if n == total else f"{n:,} of {total:,} entities"
    rows = [f"| {family.name}, {which}, `--workers {workers}` | {seconds:.0f} s ({seconds / 60:.1f} min) | "
            f"{steady:.4f} | {60 / steady:.0f} | {mb:.0f} |",
            f"| {family.name}: start-up, preparation ({(prepared_s or 0):.0f} s) and the end of that batch | "
            f"{fixed:.0f} s | | | |"]
    for count in sorted({total, 10_000}):
        if count != n:
            rows.append(f"| {family.name} × {count:,} at that steady rate, plus the same start-up | "
                        f"{(fixed + steady * count) / 60:.1f} min | | | |")
    return rows


def single_run(family, url: str, repeat: int) -> str:
    """One report through ``reportlib run`` (papermill engine): median seconds and peak MB."""
    params = ROOT / "params" / f"{family.name}.yaml"
    if params.is_file():
        given = ["-f", str(params)]
        shown = f"-f params/{family.name}.yaml"
    else:
        given = [x for key, value in DEFAULTS.get(family.name, {}).items() for x in ("-p", key, str(value))]
        shown = " ".join(given)
    times, peak = [], 0.0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rlbench-run-") as tmp:
            command = [str(BIN / "reportlib"), "run", family.name, "--db", url, "--out", tmp, "--force", *given]
            try:
                seconds, mb = timed(command)
            except RuntimeError as exc:
                return f"| `reportlib run {family.name} {shown}` | failed: {str(exc).splitlines()[-1][:200]} | |"
            times.append(seconds)
            peak = max(peak, mb)
    return f"| `reportlib run {family.name} {shown}` (papermill engine) | {median(times):.2f} | {peak:.0f} |"


def papermill_command(notebook: Path, out: Path, params: dict) -> list[str]:
    command = [str(BIN / "papermill"), str(notebook), str(out), "--no-progress-bar", "--log-level", "WARNING"]
    for key, value in params.items():
        command += ["-p", key, str(value)]
    return command


def notebook_phases(executed: Path, started: float, seconds: float) -> tuple[float, float, float]:
    """Where one run's wall time went, from its executed notebook (papermill records when each
    cell started and when the notebook ended): until its first cell started (command-line start,
    kernel start, for reportlib also the notebook's imports and the planning), its cells, and
    from its last cell to the process's exit (writing, HTML export, manifest, kernel shutdown)."""
    import json
    from datetime import datetime as dt

    nb = json.loads(executed.read_text(encoding="utf-8"))
    starts = [cell["metadata"]["papermill"]["start_time"] for cell in nb["cells"]
              if (cell.get("metadata", {}).get("papermill") or {}).get("start_time")]
    first = dt.fromisoformat(min(starts)).timestamp()
    end = dt.fromisoformat(nb["metadata"]["papermill"]["end_time"]).timestamp()
    return first - started, end - first, started + seconds - end


class WarmPool:
    """``reportlib pool --workers 2`` on ``url``, serving runs whose outputs go to a folder of its own."""

    def __init__(self, url: str, log):
        self.out = Path(tempfile.mkdtemp(prefix="rlbench-pool-"))
        log("start-up: starting a kernel pool")
        self.process = subprocess.Popen([str(BIN / "reportlib"), "pool", "--db", url, "--out", str(self.out),
                                         "--idle", "120", "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        said = []
        for line in self.process.stdout:
            said.append(line)
            if "Kernel pool ready" in line:
                break
        else:
            raise RuntimeError(f"the kernel pool did not start:\n{''.join(said)}")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        check = subprocess.run([str(BIN / "reportlib"), "run", "qbr", "--db", url, "--out", str(self.out),
                                *_first_qbr_args(url)], cwd=ROOT, capture_output=True, text=True)
        if "via the kernel pool" not in check.stdout:
            raise RuntimeError(f"a run did not go through the kernel pool:\n{check.stdout}{check.stderr}")

    def tree_cpu(self) -> float:
        """CPU seconds the pool, its workers and their kernels have used so far."""
        from portal_bench import _cpu_seconds

        return _cpu_seconds(self.process.pid) + _cpu_seconds(self.process.pid, children=True)

    def run_timed(self, args: list[str], cpu: list[float]) -> float:
        """Seconds of ``reportlib ARGS --out <the pool's>``; its CPU with the pool's goes to ``cpu``."""
        before = self.tree_cpu()
        seconds, _, used = timed_cpu([str(BIN / "reportlib"), *args, "--out", str(self.out)])
        cpu.append(used + self.tree_cpu() - before)
        return seconds

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(120)
        shutil.rmtree(self.out, ignore_errors=True)


def _first_qbr_args(url: str) -> list[str]:
    family = family_or_none("qbr")
    partner = entities(family, url, 1)[0]["partner"]
    return ["-p", "partner", partner, "-p", "quarter", batch_raw(family)["quarter"]]


BIG_FOLDER = 9_400  # about the bench database's partners: one quarter's decks in one folder


def fill_folder(root: Path, command: list[str], count: int) -> None:
    """Make ``command`` (one run into the outputs folder ``root``) write into a period folder that
    already holds ``count`` other decks' manifests, copies of its own under other stems (their
    files are not there: a run reads manifests, not decks), then run it once so that the folder's
    index and the catalogue know them all, as after a quarter's batch."""
    import json

    subprocess.run(command, check=True, capture_output=True, timeout=600)
    mine = next(root.rglob("*.manifest.json"))
    folder, made = mine.parent, json.loads(mine.read_text(encoding="utf-8"))
    stem = made["stem"]
    for i in range(count):
        other = f"z{i:05d}-filler-partner"
        copy = dict(made, stem=other, files=[dict(f, name=f["name"].replace(stem, other, 1)) for f in made["files"]])
        (folder / f"{other}.manifest.json").write_text(json.dumps(copy, indent=2), encoding="utf-8")
    subprocess.run(command, check=True, capture_output=True, timeout=600)


def startup(url: str, n: int, repeat: int, log) -> list[str]:
    """The analyst's goals side by side (issue 19), alternating within each repetition so both
    sides see the same load: one ``reportlib run qbr`` (all outputs) against the ``papermill``
    CLI on the same notebook, and ``reportlib batch qbr --limit N --workers 2`` against the
    ``papermill`` CLI two at a time (``xargs -P 2``) over the same N partners."""
    family = family_or_none("qbr")
    if family is None:
        return ["| qbr | not available: family qbr not installed | | | |"]
    from reportlib.run import notebook_path

    notebook = notebook_path(family)
    partners = [raw["partner"] for raw in entities(family, url, n)]
    quarter = batch_raw(family)["quarter"]
    one = {"partner": partners[0], "quarter": quarter}
    single = {"papermill": [], "reportlib": []}
    many = {"papermill": [], "reportlib": []}
    cpu = {"single": {"papermill": [], "reportlib": []}, "many": {"papermill": [], "reportlib": []}}
    phases = {"papermill": [], "reportlib": []}
    loads = []
    single["pool"], many["pool"] = [], []
    cpu["single"]["pool"], cpu["many"]["pool"] = [], []

    def run_timed(command: list[str], what: str, side: str) -> float:
        seconds, _, used = timed_cpu(command)
        cpu[what][side].append(used)
        return seconds

    single["big folder"], cpu["single"]["big folder"] = [], []
    big = Path(tempfile.mkdtemp(prefix="rlbench-bigfolder-"))
    big_command = [str(BIN / "reportlib"), "run", "qbr", "--db", url, "--out", str(big), "--force",
                   "-p", "partner", one["partner"], "-p", "quarter", quarter]
    log(f"start-up: a period folder of {BIG_FOLDER:,} decks' manifests, for one run into it")
    try:
        fill_folder(big, big_command, BIG_FOLDER)
    except BaseException:
        shutil.rmtree(big, ignore_errors=True)
        raise
    pool = WarmPool(url, log)
    try:
        for r in range(repeat):
            log(f"start-up: repetition {r + 1}/{repeat}: one run through the kernel pool")
            single["pool"].append(pool.run_timed(["run", "qbr", "--db", url, "--force", "-p", "partner",
                                                  one["partner"], "-p", "quarter", quarter], cpu["single"]["pool"]))
            log(f"start-up: repetition {r + 1}/{repeat}: {len(partners)} decks through the kernel pool")
            many["pool"].append(pool.run_timed(["batch", "qbr", "--db", url, "--limit", str(len(partners)),
                                                "--force", "--quiet", "-p", "quarter", quarter], cpu["many"]["pool"]))
            with tempfile.TemporaryDirectory(prefix="rlbench-startup-") as tmp:
                work = Path(tmp)
                log(f"start-up: repetition {r + 1}/{repeat}: one run each")
                clock = time.time()
                single["papermill"].append(run_timed(papermill_command(
                    notebook, work / "pm.ipynb", dict(one, db_url=url, output_dir=work / "pm", output_stem="r")),
                    "single", "papermill"))
                phases["papermill"].append(notebook_phases(work / "pm.ipynb", clock, single["papermill"][-1]))
                command = [str(BIN / "reportlib"), "run", "qbr", "--db", url, "--out", str(work / "run"), "--force",
                           "-p", "partner", one["partner"], "-p", "quarter", quarter]
                clock = time.time()
                single["reportlib"].append(run_timed(command, "single", "reportlib"))
                executed = next((work / "run").rglob("*.ipynb"))
                phases["reportlib"].append(notebook_phases(executed, clock, single["reportlib"][-1]))
                log(f"start-up: repetition {r + 1}/{repeat}: {len(partners)} decks each, two at a time")
                ids = work / "partners.txt"
                ids.write_text("\n".join(partners) + "\n", encoding="utf-8")
                xargs = ["xargs", "-a", str(ids), "-P", "2", "-I{}", *papermill_command(
                    notebook, work / "xargs" / "{}.ipynb",
                    {"partner": "{}", "quarter": quarter, "db_url": url, "output_dir": work / "xargs" / "{}",
                     "output_stem": "{}"})]
                (work / "xargs").mkdir()
                many["papermill"].append(run_timed(xargs, "many", "papermill"))
                many["reportlib"].append(run_timed(our_batch_command(family, url, len(partners), work / "batch", 2),
                                                   "many", "reportlib"))
                log(f"start-up: repetition {r + 1}/{repeat}: one run into the folder of {BIG_FOLDER:,} decks")
                single["big folder"].append(run_timed(big_command, "single", "big folder"))
                loads.append(os.getloadavg()[0])
    finally:
        pool.stop()
        shutil.rmtree(big, ignore_errors=True)
    rows = []
    for what, side, used, ours in (
            (f"one deck: `reportlib run qbr -p partner {one['partner']} -p quarter {quarter}` / "
             "`papermill notebooks/qbr.ipynb` (same parameters)", single, cpu["single"], "reportlib"),
            (f"{len(partners)} decks: `reportlib batch qbr --limit {len(partners)} --workers 2` / "
             f"`xargs -P 2` over {len(partners)} `papermill` runs", many, cpu["many"], "reportlib"),
            ("one deck via a warm pool: the same `reportlib run qbr` with `reportlib pool --workers 2` up / "
             "`papermill`", single, cpu["single"], "pool"),
            (f"{len(partners)} decks via a warm pool: `reportlib batch qbr --limit {len(partners)}` with "
             "`reportlib pool --workers 2` up / `xargs -P 2`", many, cpu["many"], "pool"),
            (f"one deck, cold, into a period folder that holds {BIG_FOLDER:,} decks' manifests (the folder's "
             "index and the catalogue list them all) / `papermill`", single, cpu["single"], "big folder")):
        pm, rl = median(side["papermill"]), median(side[ours])
        pm_cpu, rl_cpu = median(used["papermill"]), median(used[ours])
        rows.append(f"| {what} | {pm:.2f} | {rl:.2f} | {pm / rl:.1f}× | {pm_cpu:.1f} | {rl_cpu:.1f} | "
                    f"{pm_cpu / rl_cpu:.1f}× |")
    rows += ["", "Where one deck's time went (medians of each phase, seconds; from the executed notebook's "
             "cell times):", "", "| phase | `papermill` | `reportlib run` |", "| --- | ---: | ---: |"]
    names = ("until the first cell starts (CLI, kernel start; reportlib: also the notebook's imports, planning)",
             "the cells (papermill: also the notebook's imports)",
             "after the last cell (papermill: writing, kernel shutdown; reportlib: HTML, manifest, kernel end)")
    for i, name in enumerate(names):
        rows.append(f"| {name} | {median([p[i] for p in phases['papermill']]):.2f} | "
                    f"{median([p[i] for p in phases['reportlib']]):.2f} |")
    load = os.getloadavg()
    rows += ["", f"Load average when these ended: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1-minute load "
             f"after each repetition: {', '.join(f'{x:.2f}' for x in loads)}). CPU: user + system seconds of each "
             "command's whole process tree (its kernels and workers; through the pool: the command's and the pool's "
             "process tree's during the run), the fairer comparison when the machine is shared. The pool was "
             "started before the first repetition (`reportlib pool --db URL`: it rehearses each notebook once) "
             "and one run was checked to go through it."]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the (large) demo database")
    parser.add_argument("--grid-rows", type=int, default=100, help="runs of the notebook grid")
    parser.add_argument("--n", type=int, default=16, help="entities per comparison")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (medians are reported)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--papermill-n", type=int, default=3,
                        help="runs of the papermill CLI loop per repetition (each is a whole process)")
    parser.add_argument("--scale-n", default="all",
                        help="reports of the one larger QBR batch: a number, or all (every active partner; "
                             "~15 minutes on 2 cores); 0 skips it")
    parser.add_argument("--startup-db", default=None,
                        help="SQLAlchemy URL of the (default) demo database for the start-up goals "
                             "(default: --db)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--only", choices=("all", "portal", "load", "notebook-grid", "startup"), default="all",
                        help="portal: only the portal's load test and on-demand statements (bench/portal_bench.py); "
                             "load: only the load of the large leads demo (bench/load_bench.py), minutes not half an "
                             "hour; notebook-grid: only the 100-row grid over a pandas + Altair notebook against the "
                             "papermill CLI (bench/notebook_grid.py); startup: only one QBR run and a 16-deck batch, "
                             "each against papermill")
    parser.add_argument("--portal-db", default=f"sqlite:///{ROOT / 'data' / 'reportlib.sqlite'}",
                        help="the portal's database (default: the default demo's)")
    parser.add_argument("--portal-seconds", type=float, default=30, help="the portal's load test, seconds")
    parser.add_argument("--pg", default=os.environ.get("REPORTLIB_BENCH_PG_URL") or None,
                        help="a PostgreSQL URL for the load bench (its leads tables are emptied and refilled)")
    args = parser.parse_args(argv)
    os.environ.setdefault("REPORTLIB_HOME", str(ROOT))

    def log(message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    startup_db = args.startup_db or args.db
    if args.only in ("all", "startup"):
        ensure_demo_data(startup_db, ["qbr"], log)
    from notebook_grid import measure as notebook_grid

    def grid_section() -> list[str]:
        try:
            return notebook_grid(args.grid_rows, args.repeat, workers=args.workers, log=log)
        except Exception as exc:  # the other figures are kept
            return ["## Notebook grid", "", f"failed: {type(exc).__name__}: {str(exc).splitlines()[-1][:300]}"]

    if args.only == "portal":
        return portal_only(args, log)
    if args.only == "all":
        ensure_demo_data(args.db, [*COMPARED, *SINGLE], log)
    started = datetime.now(timezone.utc)
    load = os.getloadavg()
    from reportlib import __version__
    from reportlib.manifest import git_commit

    lines = [f"# reportlib bench, {started:%Y-%m-%d %H:%M} UTC", "",
             f"- machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
             f"- reportlib {__version__}, commit {git_commit()}",
             f"- database: {args.db.rsplit('/', 1)[-1]}; N = {args.n} entities; medians of {args.repeat} runs; "
             "every figure is wall-clock time of whole CLI processes (start-up included), measured in this run", ""]
    if args.only == "load":
        from load_bench import load_section

        lines += load_section(args.repeat, args.pg, log)
        return write_results(lines, args.out, started, f"{started:%Y-%m-%d}.md")
    if args.only == "notebook-grid":
        return write_results([*lines, *grid_section()], args.out, started, f"{started:%Y-%m-%d}-notebooks.md")
    lines += ["## Start-up: the analyst's goals, side by side", "",
              f"Database {startup_db.rsplit('/', 1)[-1]}; medians of {args.repeat}; wall-clock seconds of whole "
              "process trees; each repetition runs papermill, then reportlib, under the same load.", "",
              "| what | `papermill` s | reportlib s | papermill / reportlib | `papermill` CPU s | reportlib CPU s | "
              "CPU papermill / reportlib |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    try:
        lines += startup(startup_db, args.n, args.repeat, log)
    except Exception as exc:  # the other sections' figures are still worth having
        lines.append(f"| start-up | failed: {type(exc).__name__}: {str(exc).splitlines()[-1][:200]} | | |")
    if args.only == "startup":
        return write_results(lines, args.out, started, f"{started:%Y-%m-%d}-startup.md")
    lines += ["", "## Batch throughput: plain papermill CLI loop vs reportlib batch, same notebook, same entities", "",
             "| report | how | s / report | reports / min | vs papermill | peak MB |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    notes = []
    for name in COMPARED:
        family = family_or_none(name)
        if family is None:
            lines.append(f"| {name} | not available: family {name} not installed | | | | |")
            continue
        try:
            compare(family, args.db, args.n, args.repeat, args.workers, lines, notes, log, args.papermill_n)
        except Exception as exc:  # one family's failure must not lose the others' figures
            lines.append(f"| {name} | failed: {type(exc).__name__}: {str(exc).splitlines()[-1][:200]} | | | | |")
    lines += ["", "## Single reports and preparation", "", "| what | seconds | peak MB |", "| --- | ---: | ---: |"]
    for name in ("statement", *SINGLE):
        family = family_or_none(name)
        if family is None:
            lines.append(f"| {name} | not available: family {name} not installed | |")
            continue
        log(f"{name}: single run × {args.repeat}")
        lines.append(single_run(family, args.db, args.repeat))
    prepared = {}
    for name in COMPARED:
        family = family_or_none(name)
        if family is not None:
            log(f"{name}: preparation × {args.repeat}")
            row, seconds, count = prepare_time(family, args.db, args.repeat)
            lines.append(row)
            prepared[name] = (seconds, count)
    log(f"amendment: 60,000-code plan × {args.repeat} (bench/amendment_60k.py, its own large rates demo)")
    amended = subprocess.run([sys.executable, str(ROOT / "bench" / "amendment_60k.py"), "--repeat", str(args.repeat)],
                             cwd=ROOT, capture_output=True, text=True)
    lines += ["", "## Rate amendment of a 60,000-code plan (`bench/amendment_60k.py`)", "", "```",
              *(amended.stdout.strip().splitlines() if amended.returncode == 0 else
                [f"failed: {(amended.stderr.strip().splitlines() or ['?'])[-1][:300]}"]), "```"]
    log(f"delivery: deck and statement PDFs, 1,000 messages × {args.repeat} (bench/delivery.py, the default demo)")
    delivered = subprocess.run([sys.executable, str(ROOT / "bench" / "delivery.py"), "--repeat", str(args.repeat)],
                               cwd=ROOT, capture_output=True, text=True)
    lines += ["", "## Delivery: PDFs and sending (`bench/delivery.py`)", "",
              *(delivered.stdout.strip().splitlines() if delivered.returncode == 0 else
                [f"failed: {(delivered.stderr.strip().splitlines() or ['?'])[-1][:300]}"])]
    family = family_or_none("qbr")
    if family is not None and args.scale_n not in ("0", 0):
        lines += ["", "## At scale", "", "| batch | seconds | s / report | reports / min | peak MB |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        seconds, count = prepared["qbr"]
        try:
            n = count if args.scale_n == "all" else min(int(args.scale_n), count)
            lines += at_scale(family, args.db, n, args.workers, seconds, count, log)
        except Exception as exc:
            lines.append(f"| qbr | failed: {type(exc).__name__}: {str(exc).splitlines()[-1][:200]} | | | |")
    if family is not None:
        log("qbr: profiling the notebook's cells (bench/profile_qbr.py)")
        profiled = subprocess.run([sys.executable, str(ROOT / "bench" / "profile_qbr.py"), "--db", args.db,
                                   "--n", "20", "--summary"], cwd=ROOT, capture_output=True, text=True)
        notes += (profiled.stdout.strip().splitlines() if profiled.returncode == 0 else
                  [f"- qbr profile failed: {(profiled.stderr.strip().splitlines() or ['?'])[-1][:200]}"])
    from load_bench import load_section

    lines += ["", *load_section(args.repeat, args.pg, log)]
    log("notebook grid: reportlib batch --grid vs the papermill CLI (bench/notebook_grid.py)")
    lines += ["", *grid_section()]
    lines += ["", *portal_lines(args, log)]
    lines += ["", *notes]
    return write_results(lines, args.out, started, f"{started:%Y-%m-%d}.md")


def write_results(lines: list[str], out: str, started: datetime, name: str) -> int:
    """Print the results and write them to ``out/name``, with the bench's wall time."""
    lines = [*lines, "", f"Finished in {(datetime.now(timezone.utc) - started).total_seconds():.0f} s."]
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


def portal_lines(args, log) -> list[str]:
    """The portal's section (bench/portal_bench.py), or the line that says why it is missing."""
    from portal_bench import portal_section

    try:
        return portal_section(args.portal_db, seconds=args.portal_seconds, log=log)
    except Exception as exc:  # the other sections' figures stay
        return ["## Portal", "", f"failed: {type(exc).__name__}: {str(exc).splitlines()[-1][:300] if str(exc) else ''}"]


def portal_only(args, log) -> int:
    started = datetime.now(timezone.utc)
    load = os.getloadavg()
    from reportlib import __version__
    from reportlib.manifest import git_commit

    lines = [f"# reportlib bench (portal only), {started:%Y-%m-%d %H:%M} UTC", "",
             f"- machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
             f"- reportlib {__version__}, commit {git_commit()}", "", *portal_lines(args, log), ""]
    return write_results(lines, args.out, started, f"{started:%Y-%m-%d}-portal.md")


if __name__ == "__main__":
    sys.exit(main())
