"""Polling for the controller tests: the simulator's controllers converge asynchronously, as a real cluster's do."""
import time


def wait_for(fn, timeout, what, interval):
    """Calls fn until it returns something truthy (exceptions count as not yet) and returns that; AssertionError
    naming `what` and the last value or exception after `timeout` seconds."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = fn()
        except Exception as e:  # noqa: BLE001
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))
