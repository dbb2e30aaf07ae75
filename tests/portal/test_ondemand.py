"""The on-demand pool's bookkeeping, without kernels: planning, refusals, who sees a job, closing."""

from __future__ import annotations

import pytest

from reportlib.errors import ConfigError, ParameterError, UnknownEntityError
from reportlib.load import write_domain
from reportlib.portal.ondemand import RenderPool
from reportlib.portal.users import User
from tests.statements.dataset import billing_rows

ALICE, BOB, ANA = User("alice", "partner", "P1"), User("bob", "partner", "P2"), User("ana", "analyst")


@pytest.fixture
def pool(sqlite_url, tmp_path):
    write_domain("billing", billing_rows(), url=sqlite_url, source="test")
    return RenderPool(sqlite_url, tmp_path / "outputs", kernels=1)  # not started: nothing runs


def test_a_request_is_planned_before_it_queues_and_the_same_run_joins_its_job(pool):
    job = pool.submit(ALICE, "statement", "P1", "2026-10")
    assert (job.status, job.family, job.partner, job.period) == ("queued", "statement", "P1", "2026-10")
    assert job.plan.folder.name == "2026-10" and job.plan.stem.startswith("p1-")
    assert pool.submit(ANA, "statement", "P1", "2026-10") is job
    assert pool.submit(ALICE, "statement", "P1", "2026-09") is not job
    with pytest.raises(UnknownEntityError):
        pool.submit(ANA, "statement", "P9", "2026-10")
    with pytest.raises(ParameterError, match="2026-13"):
        pool.submit(ANA, "statement", "P1", "2026-13")


def test_a_job_is_seen_by_its_partner_and_analysts_only(pool):
    job = pool.submit(ALICE, "statement", "P1", "2026-10")
    assert pool.job(ALICE, job.id) is job and pool.job(ANA, job.id) is job
    assert pool.job(BOB, job.id) is None and pool.job(ALICE, "no-such-job") is None
    assert pool.jobs(BOB) == [] and pool.jobs(ALICE) == [job]


def test_closing_the_pool_fails_the_queued_jobs_with_a_reason(pool):
    jobs = [pool.submit(ALICE, "statement", "P1", month) for month in ("2026-09", "2026-10")]
    pool.close()
    assert [(j.status, j.progress()) for j in jobs] == [("failed", 1.0), ("failed", 1.0)]
    assert "server stopped" in jobs[0].error


def test_a_pool_without_kernels_renders_nothing(sqlite_url, tmp_path):
    write_domain("billing", billing_rows(), url=sqlite_url, source="test")
    with pytest.raises(ConfigError, match="--kernels 0"):
        RenderPool(sqlite_url, tmp_path, kernels=0).submit(ANA, "statement", "P1", "2026-10")
