"""Load benchmark of the comment intake (POST /comments) under gunicorn, with wrk.

Run by hand, not by pytest; everything stays on 127.0.0.1 and every step is bounded in time:

    python benchmarks/bench_intake.py [--duration 20] [--connections 16] [--threads 2]
                                      [--workers 2] [--warmup 2] [--keep]

What it does:

1. makes a temporary SQLite database and applies the migrations (``moderation db upgrade``);
2. starts the service as ``make run`` does (``gunicorn --config gunicorn.conf.py wsgi:app``) on a
   free 127.0.0.1 port, with the shipped model, a random secret key and
   ``MODERATION_FLOOD_SECONDS=0``: all the load comes from one address, so the 15 s flood rule
   would refuse nearly every comment;
3. waits for ``/readyz``, warms up briefly, then runs wrk with ``benchmarks/intake.lua`` (a
   distinct, realistic JSON comment on every request; answers counted by status);
4. waits for the last in-flight requests to finish, stops gunicorn (SIGTERM) and counts the
   rows of ``comments``: every comment answered 201 must be stored, and every extra row must be
   one of the requests still in flight when wrk stopped (wrk ends on the clock and never reads
   their answers);
5. runs the same wrk load against ``benchmarks/bare_app.py`` (Flask alone, same worker count),
   so the intake's throughput can be given as a share of what Flask and gunicorn allow here.

It exits 1 if any answer was not 201, wrk saw socket errors or timeouts, or the stored
comments do not match the answers; 2 if it could not run. Inherited ``MODERATION_*`` variables
are dropped so the service runs with its defaults. wrk shares the machine's cores with the
server: the figures are for this whole setup, not for the server alone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / "bin"
LUA_SCRIPT = HERE / "intake.lua"
HOST = "127.0.0.1"
P99_TARGET_MS = 25.0
# The access log line of gunicorn.conf.py, used for the bare app too (same logging work).
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'

WRK_MISSING = """\
wrk is not installed. On Debian or Ubuntu, as root:

    apt-get update && apt-get install -y wrk

(elsewhere: https://github.com/wg/wrk, or your system's package manager)."""


class BenchError(RuntimeError):
    """The benchmark could not run (a server did not start, wrk failed, ...)."""


# --------------------------------------------------------------------------- processes


@dataclass
class Server:
    """A gunicorn master (in its own process group) and its log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM the master (gunicorn's graceful stop) and wait; SIGKILL the group if late."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                print(f"  {self.name}: gunicorn still running after {grace:.0f} s, killing it")
        # Whatever is left of the group (a stuck worker): kill it.
        _signal_group(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        self.log_file.close()

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        self.log_file.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def gunicorn_args(*args: str) -> list[str]:
    """A gunicorn command line; without the control socket where gunicorn has one.

    gunicorn 25+ opens a control socket at one fixed path per user; two servers (this
    benchmark's and any other on the machine) would fight over it.
    """
    gunicorn = str(VENV_BIN / "gunicorn")
    try:
        helptext = subprocess.run(
            [gunicorn, "--help"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except subprocess.TimeoutExpired:
        helptext = ""
    extra = ["--no-control-socket"] if "--no-control-socket" in helptext else []
    return [gunicorn, *extra, *args]


def start_server(
    name: str, args: list[str], *, cwd: Path, env: dict[str, str], log_path: Path
) -> Server:
    """Start gunicorn in a new session (its own process group), logging to ``log_path``."""
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(name, proc, log_path, log_file)


def wait_until_answering(
    server: Server, url: str, *, method: str, body: bytes | None, status: int, timeout: float
) -> None:
    """Poll ``url`` until it answers ``status``; fail if gunicorn exits or time runs out."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(
                f"{server.name}: gunicorn exited with {server.proc.returncode}:\n"
                + server.log_tail()
            )
        request = urllib.request.Request(url, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == status:
                    return
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise BenchError(
        f"{server.name}: {url} did not answer {status} within {timeout:.0f} s ({last}):\n"
        + server.log_tail()
    )


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    """What one wrk run reported (its own summary plus intake.lua's counts)."""

    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: dict[str, int]
    statuses: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    answered: int = 0
    output: str = ""

    @property
    def created(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def not_created(self) -> int:
        return sum(count for code, count in self.statuses.items() if code != 201)

    @property
    def in_flight_at_end(self) -> int:
        return self.sent - self.answered


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, p50, p99 and errors from ``wrk --latency`` output, with intake.lua's lines."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise BenchError(f"cannot find {pattern!r} in wrk's output:\n{output}")
        return match

    rps = find(r"^Requests/sec:\s+([\d.]+)")
    total = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
    p50 = find(r"^\s+50(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)")
    p99 = find(r"^\s+99(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)")
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    socket_line = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_line:
        errors = dict(zip(errors, map(int, socket_line.groups()), strict=True))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    statuses = {
        int(code): int(count)
        for code, count in re.findall(r"^intake\.lua status (\d+) (\d+)$", output, re.MULTILINE)
    }
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_to_ms(total.group(2), total.group(3)) / 1000,
        requests_per_s=float(rps.group(1)),
        p50_ms=_to_ms(*p50.groups()),
        p99_ms=_to_ms(*p99.groups()),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors,
        statuses=statuses,
        sent=int(find(r"^intake\.lua sent (\d+)$").group(1)),
        answered=int(find(r"^intake\.lua answered (\d+)$").group(1)),
        output=output,
    )


def run_wrk(
    wrk: str, url: str, *, threads: int, connections: int, seconds: int, timeout: int, run_id: str
) -> WrkResult:
    """One bounded wrk run with intake.lua against ``url``."""
    args = [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        f"--timeout={timeout}s",
        "--latency",
        f"--script={LUA_SCRIPT}",
        url,
        "--",
        run_id,
    ]
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=seconds + timeout + 30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish in time: {' '.join(args)}") from exc
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


# --------------------------------------------------------------------------- database


def count_comments(db_path: Path) -> dict[str, int]:
    """Rows of ``comments`` by status (read-only)."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as connection:
        rows = connection.execute("SELECT status, count(*) FROM comments GROUP BY status")
        return {str(status): int(count) for status, count in rows}


def wait_until_settled(db_path: Path, *, quiet: float = 1.5, timeout: float = 20.0) -> None:
    """Wait until the comment count stops moving (the requests wrk left in flight are done)."""
    deadline = time.monotonic() + timeout
    last = -1
    since = time.monotonic()
    while time.monotonic() < deadline:
        now = sum(count_comments(db_path).values())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def server_times_ms(log_path: Path) -> list[int]:
    """Per-request server time (gunicorn's %(M)s) of the POST /comments lines in the log."""
    pattern = re.compile(r'"POST /comments" \d{3} \S+ (\d+)ms')
    text = log_path.read_text(errors="replace")
    return sorted(int(m.group(1)) for m in pattern.finditer(text))


def percentile(values: list[int], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, math.ceil(pct / 100 * len(values)) - 1))
    return float(values[rank])


# --------------------------------------------------------------------------- the runs


@dataclass
class Run:
    """One server's benchmark: warm-up and measured wrk runs, and its log."""

    label: str
    result: WrkResult
    warmup: WrkResult | None
    log_path: Path
    server_ms: list[int]


def bench_intake(args: argparse.Namespace, wrk: str, workdir: Path, run_id: str) -> Run:
    """Migrate a fresh database, serve the app, load it, stop it."""
    db_path = workdir / "bench.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env.pop("WEB_CONCURRENCY", None)
    port = free_port()
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    env.update(
        {
            "MODERATION_DATABASE_URL": f"sqlite:///{db_path}",
            "MODERATION_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            "MODERATION_FLOOD_SECONDS": "0",
            "MODERATION_RATELIMIT_ENABLED": "false",
            "MODERATION_WORKERS": str(args.workers),
            "HOST": HOST,
            "PORT": str(port),
            # Where the app keeps per-worker metrics files, if it does: inside our folder,
            # so they go when it goes.
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
    )
    print(f"intake: migrating {db_path}")
    try:
        migrated = subprocess.run(
            [str(VENV_BIN / "moderation"), "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError("moderation db upgrade did not finish in 120 s") from exc
    if migrated.returncode != 0:
        raise BenchError(f"moderation db upgrade failed:\n{migrated.stdout}{migrated.stderr}")

    log_path = workdir / "intake-gunicorn.log"
    server = start_server(
        "intake",
        gunicorn_args("--config", "gunicorn.conf.py", "wsgi:app"),
        cwd=ROOT,
        env=env,
        log_path=log_path,
    )
    try:
        print(f"intake: gunicorn on {HOST}:{port}, waiting for /readyz")
        wait_until_answering(
            server, f"http://{HOST}:{port}/readyz", method="GET", body=None, status=200, timeout=120
        )
        url = f"http://{HOST}:{port}/comments"
        warmup = None
        if args.warmup > 0:
            print(f"intake: warm-up, {args.warmup} s")
            warmup = run_wrk(
                wrk,
                url,
                threads=args.threads,
                connections=args.connections,
                seconds=args.warmup,
                timeout=args.timeout,
                run_id=f"{run_id}w",
            )
            wait_until_settled(db_path)
        print(f"intake: wrk, {args.duration} s")
        result = run_wrk(
            wrk,
            url,
            threads=args.threads,
            connections=args.connections,
            seconds=args.duration,
            timeout=args.timeout,
            run_id=run_id,
        )
        wait_until_settled(db_path)
    finally:
        server.stop()
    return Run("intake", result, warmup, log_path, server_times_ms(log_path))


def bench_bare(args: argparse.Namespace, wrk: str, workdir: Path, run_id: str) -> Run:
    """The same load against bare_app.py under gunicorn with the same worker count."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env.pop("WEB_CONCURRENCY", None)
    log_path = workdir / "bare-gunicorn.log"
    server = start_server(
        "bare",
        gunicorn_args(
            f"--workers={args.workers}",
            "--threads=1",
            f"--bind={HOST}:{port}",
            "--preload",
            "--access-logfile=-",
            "--error-logfile=-",
            f"--access-logformat={ACCESS_LOG_FORMAT}",
            "bare_app:app",
        ),
        cwd=HERE,
        env=env,
        log_path=log_path,
    )
    try:
        url = f"http://{HOST}:{port}/comments"
        print(f"bare: gunicorn on {HOST}:{port}, waiting for it to answer")
        wait_until_answering(server, url, method="POST", body=b"{}", status=201, timeout=60)
        warmup = None
        if args.warmup > 0:
            print(f"bare: warm-up, {args.warmup} s")
            warmup = run_wrk(
                wrk,
                url,
                threads=args.threads,
                connections=args.connections,
                seconds=args.warmup,
                timeout=args.timeout,
                run_id=f"{run_id}bw",
            )
        print(f"bare: wrk, {args.duration} s")
        result = run_wrk(
            wrk,
            url,
            threads=args.threads,
            connections=args.connections,
            seconds=args.duration,
            timeout=args.timeout,
            run_id=f"{run_id}b",
        )
    finally:
        server.stop()
    return Run("bare", result, warmup, log_path, server_times_ms(log_path))


# --------------------------------------------------------------------------- report


def _wrk_version(wrk: str) -> str:
    try:
        out = subprocess.run(
            [wrk, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    match = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "?"


def report(
    args: argparse.Namespace,
    wrk: str,
    intake: Run,
    bare: Run,
    stored: dict[str, int],
    load_before: tuple[float, float, float],
) -> list[str]:
    """Print the report; return the reasons the run failed (empty when it passed)."""
    failures: list[str] = []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print()
    print("=== comment intake load benchmark ===")
    print(
        f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"wrk {_wrk_version(wrk)} (wrk runs on the same cores as the server)"
    )
    load = ", ".join(f"{x:.2f}" for x in load_before)
    busy = (
        " (the machine was not idle: figures may be lower and noisier)"
        if load_before[0] > 0.5
        else ""
    )
    print(f"load average before the run (1, 5, 15 min): {load}{busy}")
    print(
        f"server: gunicorn, {args.workers} sync workers x 1 thread, on {HOST}; "
        f"intake with the shipped model, SQLite in a temporary folder"
    )
    print(
        f"load: wrk {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s (after a {args.warmup} s warm-up), --timeout {args.timeout} s; "
        "a distinct JSON comment per request"
    )
    print(
        "note: MODERATION_FLOOD_SECONDS=0 and MODERATION_RATELIMIT_ENABLED=false: the 15 s "
        "flood rule and the per-address rate limit are OFF for this run, since all the load "
        "comes from one IP address"
    )
    print()
    header = (
        f"{'':8} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'non-201':>8} {'sock err':>9} {'server p50/p99 ms':>18}"
    )
    print(header)
    for run in (intake, bare):
        r = run.result
        errors = sum(r.socket_errors.values())
        server = f"{percentile(run.server_ms, 50):.0f}/{percentile(run.server_ms, 99):.0f}"
        print(
            f"{run.label:8} {r.requests:>9} {r.requests_per_s:>9.1f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.non_2xx:>8} {r.not_created:>8} {errors:>9} {server:>18}"
        )
        if r.not_created:
            codes = ", ".join(f"{c}: {n}" for c, n in sorted(r.statuses.items()) if c != 201)
            failures.append(f"{run.label}: {r.not_created} answers were not 201 ({codes})")
        if errors:
            failures.append(f"{run.label}: wrk socket errors {r.socket_errors}")
        if run.warmup is not None and (
            run.warmup.not_created or sum(run.warmup.socket_errors.values())
        ):
            failures.append(
                f"{run.label} warm-up: {run.warmup.not_created} answers not 201, "
                f"socket errors {run.warmup.socket_errors}"
            )
    print("(server p50/p99: gunicorn's own time per request from its access log, whole ms;")
    print(" the rest of wrk's latency is waiting in the listen queue and on the shared cores)")
    print()
    ratio = intake.result.requests_per_s / bare.result.requests_per_s
    print(
        f"throughput intake/bare: {ratio:.3f} "
        f"({intake.result.requests_per_s:.1f} / {bare.result.requests_per_s:.1f} req/s)"
    )

    runs = [intake.result] + ([intake.warmup] if intake.warmup else [])
    accepted = sum(r.created for r in runs)
    in_flight = sum(r.in_flight_at_end for r in runs)
    total = sum(stored.values())
    by_status = ", ".join(f"{s} {n}" for s, n in sorted(stored.items()))
    print(f"stored comments: {total} ({by_status})")
    print(
        f"201 answers: {accepted}{' (warm-up included)' if intake.warmup else ''}; "
        f"requests still in flight when wrk stopped: {in_flight}"
    )
    equal = total == accepted
    print(f"stored == 201 answers: {'yes' if equal else 'no'}", end="")
    if equal:
        print(" (nothing lost)")
    elif total == accepted + in_flight:
        print(
            f"; stored == 201 answers + {in_flight} in flight (wrk stops on the clock and never "
            "reads those answers; their comments were stored): nothing lost"
        )
    else:
        print(f"; differs by {total - accepted} (in flight: {in_flight})")
        failures.append(
            f"stored comments ({total}) != 201 answers ({accepted}) "
            f"+ requests in flight at the end ({in_flight})"
        )

    p99 = intake.result.p99_ms
    met = p99 <= P99_TARGET_MS
    print(
        f"p99 target <= {P99_TARGET_MS:.0f} ms at {args.connections} connections: "
        f"{'met' if met else 'MISSED'} (intake p99 {p99:.2f} ms)"
    )
    return failures


# --------------------------------------------------------------------------- main


class Interrupted(Exception):
    """SIGTERM or SIGHUP: stop, cleaning up as for Ctrl-C."""


def _terminate(signum: int, _frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main() -> int:
    """Run both benchmarks and print the report; the exit status says whether all was well."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds of load (default 20)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds, 0 for none (2)")
    parser.add_argument("--timeout", type=int, default=10, help="wrk request timeout, s (10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if not 1 <= args.duration <= 600:
        parser.error("--duration must be 1..600 seconds")
    if args.threads < 1 or args.connections < args.threads:
        parser.error("need at least one connection per wrk thread")
    if not 0 <= args.warmup <= 60 or args.workers < 1 or args.timeout < 1:
        parser.error("bad --warmup, --workers or --timeout")

    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress lines show up at once in a pipe
    wrk = shutil.which("wrk")
    if wrk is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    for tool in ("gunicorn", "moderation"):
        if not (VENV_BIN / tool).exists():
            print(f"{VENV_BIN / tool} is missing: run `make install` first", file=sys.stderr)
            return 2

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    run_id = uuid.uuid4().hex[:8]
    status = 2
    try:
        intake = bench_intake(args, wrk, workdir, run_id)
        stored = count_comments(workdir / "bench.db")
        bare = bench_bare(args, wrk, workdir, run_id)
        failures = report(args, wrk, intake, bare, stored, load_before)
        if failures:
            print("\nFAILED:\n  " + "\n  ".join(failures))
            status = 1
        else:
            print("\nOK: every answer was 201 and every accepted comment was stored")
            status = 0
    except BenchError as exc:
        print(f"\nbenchmark could not run: {exc}", file=sys.stderr)
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"\ninterrupted ({exc or 'SIGINT'}): servers stopped", file=sys.stderr)
        status = 130
    finally:
        if args.keep or status != 0:
            print(f"logs and database kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
