"""The schedule: params/schedule.yaml, ``reportlib due`` (twice at once: the work is done once),
``reportlib schedule``; relative periods taken from the scheduled time."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from reportlib.cli import main
from reportlib.db import init_db
from reportlib.delivery import delivery_frame
from reportlib.delivery.schedule import (LockBusy, ScheduleError, due, due_lock, load_schedule, resolve_period,
                                         schedule_runs)

from ..smtp_server import Inbox

pytestmark = pytest.mark.kernel

SCHEDULE = """\
jobs:
  - name: monthly-statements
    family: statement
    parameters: {month: previous}
    when: "0 6 1 * *"   # 06:00 UTC on the first of the month
    send: yes
"""


def schedule_file(tmp_path: Path, text: str = SCHEDULE) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_periods_come_from_the_scheduled_time():
    moment = datetime(2026, 11, 1, 6, 0)
    assert resolve_period("month", "previous", moment) == "2026-10"
    assert resolve_period("month", "current", moment) == "2026-11"
    assert resolve_period("quarter", "previous", datetime(2026, 10, 2)) == "2026Q3"
    assert resolve_period("quarter", "previous", datetime(2026, 1, 2)) == "2025Q4"
    assert resolve_period("week", "previous", datetime(2026, 11, 2, 7)) == "2026-W44"
    assert resolve_period("month", "2026-07", moment) == "2026-07"
    with pytest.raises(ScheduleError, match="'partner'"):
        resolve_period("partner", "previous", moment)


def test_every_problem_of_the_schedule_is_named_with_its_job(tmp_path):
    path = schedule_file(tmp_path, """\
jobs:
  - name: a
    family: newsletter
    when: "0 6 1 * *"
  - name: b
    family: statement
    parameters: {month: previous}
    when: "every monday"
    send: perhaps
  - name: a
    family: qbr
    parameters: {quarter: previous}
    when: "0 7 2 1,4,7,10 *"
    colour: blue
""")
    with pytest.raises(ScheduleError) as caught:
        load_schedule(path)
    message = str(caught.value)
    assert "has 5 problem(s)" in message
    for part in ("job 1 (a): family 'newsletter' is not one of", "job 2 (b): when 'every monday' is not a cron",
                 "job 2 (b): send must be yes or no", "job 3 (a): unknown key(s) colour",
                 "job 3 (a): the name is used by an earlier job"):
        assert part in message


def test_the_project_schedule_loads():
    jobs = load_schedule()  # params/schedule.yaml of the project
    assert {job.family for job in jobs} >= {"statement", "dashboard", "qbr", "qbr-portfolio"}
    monthly = next(job for job in jobs if job.family == "statement")
    assert monthly.parameters_at(monthly.previous_time(datetime(2026, 11, 3, 12))) == {"month": "2026-10"}


def _due(world, path: Path, smtp, now: str) -> subprocess.Popen:
    code = "import sys; from reportlib.cli import main; sys.exit(main())"
    return subprocess.Popen([sys.executable, "-c", code, "due", "--file", str(path), "--now", now, "--smtp", str(smtp),
                             "--db", world.url, "--out", str(world.out), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))


def test_due_run_twice_at_once_does_the_work_once_and_then_is_done(world, smtp_server, tmp_path):
    inbox = Inbox()
    smtp = smtp_server(inbox)
    path = schedule_file(tmp_path)
    first, second = _due(world, path, smtp, "2026-11-01T06:05"), _due(world, path, smtp, "2026-11-01T06:05")
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    assert sorted(len(e.rcpt_tos) for e in inbox.envelopes) == [2, 3]  # P2's and P1's statement, once each
    with init_db(world.url).connect() as conn:
        runs = conn.execute(sa.select(schedule_runs)).all()
        log = delivery_frame(conn, "statement")
    assert [(r.job, r.scheduled_for, r.status) for r in runs] == [("monthly-statements", datetime(2026, 11, 1, 6),
                                                                    "ok")]
    assert len(set(log["delivery"])) == 2 and set(log["status"]) == {"sent"}
    # Whichever came second either found the lock held or the job done: neither ran it again.
    text = "\n".join(outputs)
    assert text.count("due since 2026-11-01 06:00 UTC") == 1
    assert "Another reportlib due is running" in text or "done for 2026-11-01 06:00" in text
    # Later the same month nothing is due; the next month's time makes November's.
    again = due(db_url=world.url, out=world.out, path=path, now=datetime(2026, 11, 20), smtp=smtp, pdf=False,
                say=lambda line: None)
    assert again.lines == ["monthly-statements: done for 2026-11-01 06:00; next 2026-12-01 06:00"]
    assert len(inbox.envelopes) == 2


def test_due_while_another_holds_the_lock_does_nothing(world, tmp_path):
    path = schedule_file(tmp_path, SCHEDULE.replace("send: yes", "send: no"))
    with due_lock(Path(world.out)):
        with pytest.raises(LockBusy, match="Another reportlib due is running"):
            due(db_url=world.url, out=world.out, path=path, now=datetime(2026, 11, 1, 7), say=lambda line: None)
        assert main(["due", "--file", str(path), "--now", "2026-11-01T07:00", "--db", world.url,
                     "--out", str(world.out)]) == 0
    with init_db(world.url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schedule_runs)).scalar_one() == 0


def test_a_failed_job_is_tried_again_by_the_next_due(world, tmp_path, capsys):
    path = schedule_file(tmp_path, SCHEDULE.replace("send: yes", "send: no"))
    calls = []

    def failing_then_working(job, parameters, **options):
        calls.append(parameters)
        return "FAILED 0 ok, 0 unchanged, 1 failed" if len(calls) == 1 else "2 ok, 0 unchanged, 0 failed"

    now = datetime(2026, 11, 1, 6, 30)
    first = due(db_url=world.url, out=world.out, path=path, now=now, say=lambda line: None,
                run_job=failing_then_working)
    assert first.failed == 1
    second = due(db_url=world.url, out=world.out, path=path, now=now, say=lambda line: None,
                 run_job=failing_then_working)
    assert second.failed == 0 and calls == [{"month": "2026-10"}, {"month": "2026-10"}]
    assert main(["schedule", "--file", str(path), "--now", "2026-11-02T00:00", "--db", world.url]) == 0
    line = capsys.readouterr().out
    assert "monthly-statements" in line and "next 2026-12-01 06:00 (month=2026-11)" in line
    assert "last 2026-11-01 06:00 ok" in line
