"""The load generator of benchmarks/bench_viewers.py: screens split over client processes
without losing or repeating one, and their tallies added up."""

from __future__ import annotations

from benchmarks import bench_viewers
from benchmarks.bench_viewers import Ask, Tally, run_clients


class FakePool:
    """Runs the jobs in this process and remembers them."""

    def __init__(self):
        self.jobs = []

    def starmap(self, func, jobs):
        self.jobs = list(jobs)
        return [fake_tally(job) for job in self.jobs]


def fake_tally(job) -> Tally:
    _port, _asks, n, _seconds, _distinct, first = job
    tally = Tally(latencies=[0.001] * n, errors=first % 2, lags=[0.002], cpu_seconds=0.5)
    tally.statuses[200] += n
    tally.count_by_kind["tick"] += n
    return tally


def test_screens_are_split_over_clients_each_once():
    pool = FakePool()
    ask = Ask("tick", "GET", "/api/v1/tick", None, 1.0, 10)
    tally = run_clients(pool, 1, [ask], 1001, 5.0, 0, 4)
    shares = [(job[2], job[5]) for job in pool.jobs]
    assert shares == [(251, 0), (250, 251), (250, 501), (250, 751)]
    assert len(tally.latencies) == 1001 and tally.statuses[200] == 1001
    assert tally.count_by_kind["tick"] == 1001
    assert tally.errors == 3  # the three clients starting at an odd screen
    assert tally.cpu_seconds == 2.0 and len(tally.lags) == 4


def test_fewer_screens_than_clients_start_no_empty_client():
    pool = FakePool()
    run_clients(pool, 1, [], 2, 5.0, 0, 4)
    assert [job[2] for job in pool.jobs] == [1, 1]


def test_a_late_event_loop_is_flagged(capsys):
    row = {"screens": 10, "rps": 1.0, "p50": 1.0, "p95": 1.0, "p99": 1.0, "errors": 0,
           "skipped": 0, "bytes_per_screen_per_change": 0.0, "cpu_per_worker": [1],
           "rss_mb_per_worker": [1], "writes": 1, "cpu_ms_per_request": 1.0, "client_cpu": 1,
           "load_average": 1.0, "clients": 1, "client_cpu_ms_per_request": 0.1,
           "client_lag_p95": bench_viewers.CLIENT_LAG_LIMIT_MS + 1, "per_kind": {}}
    bench_viewers.print_row(row)
    assert "CLIENT-LIMITED" in capsys.readouterr().out
    bench_viewers.print_row({**row, "client_lag_p95": 1.0})
    assert "CLIENT-LIMITED" not in capsys.readouterr().out
