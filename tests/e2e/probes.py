"""Functions the harness's tests enqueue for a worker process to run."""

import os
import time


def worker_pid(seconds: float = 0) -> int:
    """Take `seconds`, then say which process did the work."""
    time.sleep(seconds)
    return os.getpid()
