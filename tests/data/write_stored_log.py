"""Write a small run folder as the code of the day writes it, for tests/data (stored logs must keep opening).

    PYTHONPATH=$PWD python tests/data/write_stored_log.py OUT_DIR

A short real headless run on one process: paused at the start so a snapshot can be asked for over
the control channel, then resumed to the end (batches, layer statistics, the snapshot, a
validation with its mistakes, a checkpoint, the test, Finished). Delete the folder's checkpoints/,
model.pdparams and trainer.lock before storing it: no test needs them, and they are the bulk.
"""

import subprocess
import sys
import time
from pathlib import Path

from mnist_tui.run.control import ControlClient, ControlError
from mnist_tui.run.folder import EVENTS

OPTIONS = ["--headless", "--paused", "--nproc", "1", "--epochs", "1", "--batch-size", "32", "--train-limit", "128",
           "--val-limit", "64", "--test-limit", "64", "--train-eval-limit", "64", "--stats-every", "2",
           "--checkpoint-every", "0"]


def main(runs: Path, wait_s: float = 300) -> int:
    trainer = subprocess.Popen([sys.executable, "-m", "mnist_tui", *OPTIONS, "--runs-dir", str(runs)])
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        live = [d for d in runs.glob("*") if (d / "control.sock").exists()]
        if live:
            client = ControlClient(live[0])
            try:
                client.send("request_snapshot")  # taken at the first batch after the resume
                break
            except ControlError:  # still loading data and Paddle
                client.close()
        time.sleep(0.5)
    else:
        trainer.kill()
        sys.exit("the trainer did not open its control channel")
    client.send("resume")
    while b'"type": "Finished"' not in (live[0] / EVENTS).read_bytes():  # the trainer waits for us till then
        time.sleep(0.5)
    client.close()
    return trainer.wait(120)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
