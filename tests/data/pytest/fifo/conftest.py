# A test run that attacks its runner: once pytest has written its JUnit
# report, the report is replaced by a FIFO that nobody ever writes to. A
# runner that opens it blocks forever.
import os


def pytest_unconfigure(config):
    path = os.path.join(os.environ["QF_ARTIFACT_DIR"], "junit.xml")
    if os.path.exists(path):
        os.remove(path)
    os.mkfifo(path)
