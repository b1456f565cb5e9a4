"""The bench's cost counters and baseline ratios, on this machine's own processes."""

import itertools
import os
import socket
import subprocess
import sys
import time

from platform_tools.bench import baseline, costs


def test_cpu_seconds_counts_this_process_work_and_none_for_a_gone_one():
    before = costs.cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    after = costs.cpu_seconds(os.getpid())
    assert before is not None and after is not None
    assert after - before >= 0.2
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert costs.cpu_seconds(gone.pid) is None


def test_listener_and_descendants_find_the_processes():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert costs.listener(sock.getsockname()[1]) == os.getpid()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in costs.descendants(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_top_functions_share_own_and_total_samples():
    collapsed = "\n".join(
        [
            'process 1:"worker";main (app.py:1);handle (app.py:5);execute (db.py:9) 6',
            'process 1:"worker";main (app.py:1);handle (app.py:5) 3',
            'process 1:"worker";main (app.py:1);log (logs.py:2) 1',
        ]
    )
    top = {row["function"]: row for row in costs.top_functions(collapsed)}
    assert list(top) == ["execute (db.py:9)", "handle (app.py:5)", "log (logs.py:2)"]
    assert top["execute (db.py:9)"]["own %"] == 60
    assert top["handle (app.py:5)"]["own %"] == 30
    assert top["handle (app.py:5)"]["total %"] == 90


def test_ratios_pair_rows_by_their_key_and_divide_numbers_only():
    current = [
        {"measure": "CPU ms/order, all", "value": 30.0},
        {"measure": "only here", "value": 1.0},
    ]
    old = [{"measure": "CPU ms/order, all", "value": 60.0}, {"measure": "only there", "value": 2}]
    assert baseline.ratios(current, old) == [{"measure": "CPU ms/order, all", "value": "0.50x"}]
    ladder_now = [{"offered /s": 10.0, "orders": 50, "saga p50 ms": 40.0, "sustained": "yes"}]
    ladder_then = [{"offered /s": 10.0, "orders": 50, "saga p50 ms": 80.0, "sustained": "no"}]
    assert baseline.ratios(ladder_now, ladder_then) == [
        {"offered /s": 10.0, "orders": "1.00x", "saga p50 ms": "0.50x"}
    ]


def test_the_ladder_has_rungs_every_five_orders_a_second():
    from platform_tools.bench import saga

    rates = [float(r) for r in saga.DEFAULT_RATES.split(",")]
    assert rates[0] == 5 and all(b - a == 5 for a, b in itertools.pairwise(rates))
    assert rates[-1] >= 60  # past three times the release's 20/s


def test_the_burst_plot_draws_the_lag_draining(tmp_path):
    from platform_tools.bench import saga

    saga.BURST.update(rate=30, seconds=2)
    rows = [
        {"t s": t, "placed": p, "confirmed": c, "waiting": p - c, "lag s": lag}
        for t, p, c, lag in ((1, 30, 10, 0.9), (2, 60, 30, 1.5), (3, 60, 55, 1.1), (4, 60, 60, 0))
    ]
    saga.plot_burst(rows, tmp_path / "burst.png")
    assert (tmp_path / "burst.png").stat().st_size > 10_000
