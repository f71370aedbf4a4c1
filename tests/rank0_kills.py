"""SIGKILL of rank 0 of a two-rank run, at a given moment: are the run's other processes gone
within 30 s, and does `--resume` finish the run? Used by tests/test_ranks.py at two moments, and
as a script at random moments from launch:

    PYTHONPATH=. python tests/rank0_kills.py 20        # 20 random moments, one line each
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLI = [sys.executable, "-m", "mnist_tui"]
TINY = ["--nproc", "2", "--epochs", "1", "--train-limit", "1280", "--val-limit", "256", "--test-limit", "256"]
GONE_WITHIN_S = 30.0


def processes_of(runs: Path) -> list[int]:
    """Processes whose command line names the runs folder: rank 0 (--runs-dir) and its ranks (the run)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue
            if str(runs) in cmdline and state != "Z":
                found.append(int(proc.name))
    return found


@dataclass
class Outcome:
    moment_s: float
    ranks_seen: int  # processes of the run just before the kill (rank 0 included)
    left_after_s: float | None  # when the last one was gone; None: some still there after GONE_WITHIN_S
    resumed: str  # "done", "no run folder yet", or what went wrong

    @property
    def ok(self) -> bool:
        return self.left_after_s is not None and self.resumed in ("done", "no run folder yet", "ended before the kill")


def kill_rank0(runs: Path, when) -> Outcome:
    """Launch a tiny two-rank run under `runs`, SIGKILL rank 0 once `when(elapsed_s, run)` is true,
    then watch its processes go and resume the run on one rank."""
    rank0 = subprocess.Popen([*CLI, "--headless", "--runs-dir", str(runs), *TINY], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    began = time.monotonic()
    try:
        while rank0.poll() is None:
            folders = [p for p in runs.iterdir() if p.is_dir()] if runs.exists() else []
            if when(time.monotonic() - began, folders[0] if folders else None):
                break
            time.sleep(0.05)
        moment, seen = time.monotonic() - began, len(processes_of(runs))
        if rank0.poll() is not None:
            return Outcome(moment, 0, 0.0, "ended before the kill")
        rank0.send_signal(signal.SIGKILL)
        rank0.wait()
        killed = time.monotonic()
        while processes_of(runs) and time.monotonic() - killed < GONE_WITHIN_S:
            time.sleep(0.1)
        left = processes_of(runs)
        gone_after = None if left else time.monotonic() - killed
    finally:
        rank0.kill()
        for pid in processes_of(runs):  # only what the check itself started
            subprocess.run(["kill", "-9", str(pid)], check=False)
    folders = [p for p in runs.iterdir() if p.is_dir()] if runs.exists() else []
    if not folders:
        return Outcome(moment, seen, gone_after, "no run folder yet")
    resumed = subprocess.run([*CLI, "--headless", "--resume", str(folders[0]), "--nproc", "1"], check=False,
                             capture_output=True, text=True, timeout=600)
    finished = "done" if resumed.returncode == 0 else (
        f"exit {resumed.returncode}: {(resumed.stderr or resumed.stdout).strip().splitlines()[-1:]}")
    if resumed.returncode == 0 and '"status": "done"' not in (folders[0] / "events.jsonl").read_text().splitlines()[-1]:
        finished = "exit 0 without a Finished done line"
    return Outcome(moment, seen, gone_after, finished)


def main(count: int, longest_s: float = 20.0) -> int:
    moments = sorted(random.uniform(0, longest_s) for _ in range(count))
    failures = 0
    for moment in moments:
        with tempfile.TemporaryDirectory(prefix="rank0-kill-") as tmp:
            outcome = kill_rank0(Path(tmp) / "runs", lambda elapsed, _run, m=moment: elapsed >= m)
        failures += not outcome.ok
        gone = f"{outcome.left_after_s:.1f} s" if outcome.left_after_s is not None else f"NOT within {GONE_WITHIN_S:.0f} s"
        print(f"kill at {outcome.moment_s:5.1f} s ({outcome.ranks_seen} processes): all gone after {gone}; "
              f"resume: {outcome.resumed}", flush=True)
    print(f"{count - failures}/{count} passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
