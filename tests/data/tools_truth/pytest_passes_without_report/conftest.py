"""Removes the JUnit report pytest just wrote: a run that exits 0 and
leaves no report, which run_pytest must not take as a pass."""
import os


def pytest_unconfigure(config):
    path = getattr(config.option, "xmlpath", None)
    if path and os.path.exists(path):
        os.remove(path)
