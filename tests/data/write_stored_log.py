"""Write a small run folder with today's code: headless, paused, a snapshot asked for, resumed, finished."""
import subprocess, sys, time, os
from pathlib import Path
from mnist_tui.run.control import ControlClient, ControlError

runs = Path(sys.argv[1])
cmd = [sys.executable, "-m", "mnist_tui", "--headless", "--paused", "--nproc", "1", "--epochs", "1",
       "--batch-size", "32", "--train-limit", "128", "--val-limit", "64", "--test-limit", "64",
       "--train-eval-limit", "64", "--stats-every", "2", "--checkpoint-every", "0", "--runs-dir", str(runs)]
proc = subprocess.Popen(cmd)
deadline = time.monotonic() + 300
client = None
while time.monotonic() < deadline:
    dirs = [d for d in runs.glob("*") if (d / "control.sock").exists()]
    if dirs:
        client = ControlClient(dirs[0])
        try:
            client.send("request_snapshot")
            break
        except ControlError as e:
            print("retry:", e)
            client = None
    time.sleep(0.5)
client.send("resume")
events = dirs[0] / "events.jsonl"
while "Finished" not in events.read_text():
    time.sleep(0.5)
client.close()
print("exit", proc.wait(120))
