"""Run manifests: the commit a run was made from, and the folder's index of its runs."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

from reportlib.config import project_root
from reportlib.manifest import INDEX, SUFFIX, _git_commit_lookup, git_commit, look_up_git_commit, write_folder_index
from reportlib.manifest import write_manifest


def test_the_commit_is_git_s_answer_asked_once_per_process_ahead_of_need():
    look_up_git_commit()  # as a run does before its notebook executes
    look_up_git_commit()
    root = str(project_root())
    head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                          timeout=30).stdout.strip()
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=30).stdout.strip()
    assert [git_commit() for _ in range(3)] == [head + ("+dirty" if dirty else "")] * 3
    assert _git_commit_lookup.cache_info().currsize == 1  # one question to git, however many runs


def _run(folder: Path, stem: str, status: str = "ok", **more) -> None:
    write_manifest(folder / f"{stem}{SUFFIX}",
                   {"stem": stem, "status": status, "parameters": {"partner": stem.upper()}, "duration_s": 1.5,
                    "started_at": "2026-12-02T10:00:00+00:00", "files": [{"name": f"{stem}.html", "bytes": 3}],
                    "error": None, "run_key": "k", **more})


def _rebuilt(folder: Path) -> bytes:
    """The index a full rebuild writes, leaving the folder's own as it was."""
    kept = (folder / INDEX).read_bytes() if (folder / INDEX).exists() else None
    write_folder_index(folder)
    rebuilt = (folder / INDEX).read_bytes()
    if kept is None:
        (folder / INDEX).unlink()
    else:
        (folder / INDEX).write_bytes(kept)
    return rebuilt


def test_a_runs_index_update_is_the_full_rebuild_and_reads_only_its_own_manifest(tmp_path):
    for stem in ("b", "a-b", "c", "a"):  # "a-b.manifest.json" sorts before "a.manifest.json"
        _run(tmp_path, stem)
    write_folder_index(tmp_path)
    index = json.loads((tmp_path / INDEX).read_text())
    assert [run["stem"] for run in index["runs"]] == ["a-b", "a", "b", "c"] and index["folder"] == tmp_path.name
    assert index["runs"][0] == {"stem": "a-b", "status": "ok", "parameters": {"partner": "A-B"}, "duration_s": 1.5,
                                "started_at": "2026-12-02T10:00:00+00:00", "error": None,
                                "files": [{"name": "a-b.html", "bytes": 3}]}

    _run(tmp_path, "b", "failed", error="boom")  # a run again, and a new one
    _run(tmp_path, "aa")
    write_folder_index(tmp_path, stems=["b", "aa"])
    assert (tmp_path / INDEX).read_bytes() == _rebuilt(tmp_path)
    assert [(r["stem"], r["status"]) for r in json.loads((tmp_path / INDEX).read_text())["runs"]] == [
        ("a-b", "ok"), ("a", "ok"), ("aa", "ok"), ("b", "failed"), ("c", "ok")]

    # The other runs' entries come from the index, not from their manifests.
    (tmp_path / f"c{SUFFIX}").write_text(json.dumps({"stem": "c", "status": "changed behind the index's back"}))
    _run(tmp_path, "a")
    write_folder_index(tmp_path, stems=["a"])
    assert {r["stem"]: r["status"] for r in json.loads((tmp_path / INDEX).read_text())["runs"]}["c"] == "ok"


def test_an_index_that_does_not_list_the_folders_other_runs_is_rebuilt_whole(tmp_path):
    for stem in ("a", "b"):
        _run(tmp_path, stem)
    _run(tmp_path, "c")
    assert not (tmp_path / INDEX).exists()
    write_folder_index(tmp_path, stems=["c"])  # no index yet
    assert [r["stem"] for r in json.loads((tmp_path / INDEX).read_text())["runs"]] == ["a", "b", "c"]

    _run(tmp_path, "d")  # a run whose index update never came (a killed batch)
    (tmp_path / f"a{SUFFIX}").unlink()  # a run removed by hand
    _run(tmp_path, "e")
    write_folder_index(tmp_path, stems=["e"])
    assert [r["stem"] for r in json.loads((tmp_path / INDEX).read_text())["runs"]] == ["b", "c", "d", "e"]

    for broken in ('{"folder": "x", "runs": [{"stem": {"a": 1}}]}', '{"folder": "x", "runs": [1]}'):
        (tmp_path / INDEX).write_text(broken)  # readable, but no index of runs
        write_folder_index(tmp_path, stems=["e"])
        assert (tmp_path / INDEX).read_bytes() == _rebuilt(tmp_path)
    (tmp_path / INDEX).write_text('{"folder": "x", "runs": [')  # unreadable
    _run(tmp_path, "b", "failed")
    write_folder_index(tmp_path, stems=["b"])
    assert (tmp_path / INDEX).read_bytes() == _rebuilt(tmp_path)

    (tmp_path / f"b{SUFFIX}").unlink()  # a run whose manifest is gone leaves the index
    write_folder_index(tmp_path, stems=["b"])
    assert [r["stem"] for r in json.loads((tmp_path / INDEX).read_text())["runs"]] == ["c", "d", "e"]
    assert (tmp_path / INDEX).read_bytes() == _rebuilt(tmp_path)


def test_runs_ending_at_once_in_one_folder_all_stay_in_its_index(tmp_path):
    # Rounds of six runs ending together, in threads (flock holds between two opens of the
    # folder in one process as between processes); after each round the index lists them all.
    _run(tmp_path, "first")
    write_folder_index(tmp_path)
    writers, rounds = 6, 30
    together = threading.Barrier(writers + 1)
    lost: list[tuple[int, list[str]]] = []

    def write(who: int) -> None:
        for n in range(rounds):
            together.wait(timeout=60)
            _run(tmp_path, f"r{n:02d}-w{who}")
            write_folder_index(tmp_path, stems=[f"r{n:02d}-w{who}"])
            together.wait(timeout=60)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for n in range(rounds):
        together.wait(timeout=60)
        together.wait(timeout=60)
        listed = {r["stem"] for r in json.loads((tmp_path / INDEX).read_text())["runs"]}
        missing = sorted({f"r{n:02d}-w{w}" for w in range(writers)} - listed)
        if missing:
            lost.append((n, missing))
    for thread in threads:
        thread.join(timeout=60)
    assert not lost
    assert (tmp_path / INDEX).read_bytes() == _rebuilt(tmp_path)
