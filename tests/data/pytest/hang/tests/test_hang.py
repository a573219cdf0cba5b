import os
import subprocess
import time


def test_hangs_with_a_child():
    child = subprocess.Popen(["sleep", "300"])
    with open(os.path.join(os.environ["QF_ARTIFACT_DIR"], "pids.txt"), "w") as f:
        f.write("%d %d\n" % (os.getpid(), child.pid))
    time.sleep(300)
