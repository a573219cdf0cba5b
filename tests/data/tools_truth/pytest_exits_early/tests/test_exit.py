"""Dies in the middle of the run, before pytest writes its JUnit report:
exit code 1 with no report, which run_pytest must not call "tests failed"
(tests/test_tool_pytest.c runs it with -s so that the line reaches the log
uncaptured)."""
import os


def test_dies_before_the_report():
    os.write(2, b"test_exit: giving up before the report\n")
    os._exit(1)
