"""The worker helper refuses to start a worker from a test outside xdist group "broker": on
the run's shared broker it would take the tasks of another process's worker (CI failed that way
when the ControlNet end-to-end test was added without the group)."""

import pytest

from tests.worker_support import celery_worker


def test_a_worker_outside_the_broker_group_is_refused(tmp_path):
    with pytest.raises(AssertionError, match='xdist_group\\("broker"\\)'):
        with celery_worker(tmp_path / "worker.log"):
            pass
    assert not (tmp_path / "worker.log").exists()
