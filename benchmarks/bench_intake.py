"""Load benchmark of the comment intake (POST /comments) under gunicorn, with wrk.

Run by hand, not by pytest; everything stays on 127.0.0.1 and every step is bounded in time:

    python benchmarks/bench_intake.py [--database sqlite|postgresql] [--duration 20]
                                      [--connections 16] [--threads 2] [--workers 2]
                                      [--warmup 2] [--keep]

What it does, once for the service and once for the reference, in the same run:

1. makes a fresh database (SQLite in a temporary folder, or a new PostgreSQL database on
   ``--postgres-url``'s server, dropped at the end) and applies the migrations;
2. starts the service as in production (``gunicorn --config gunicorn.conf.py wsgi:app``) on a
   free 127.0.0.1 port, with the shipped model and **every rule on**: the flood rule, the
   per-address rate limit, form tokens, the webhook outbox (a webhook URL is configured; events
   are queued with each comment, nothing delivers them during the run), behind one proxy
   (``MODERATION_PROXY_FIX_X_FOR=1``);
3. waits for ``/readyz``, warms up briefly, then runs wrk with ``benchmarks/intake.lua``: a
   distinct, realistic JSON comment on every request, each from its own reader's address
   (``X-Forwarded-For``) with its own form token, as a browser posts the form (the tokens are
   signed here with the service's secret, issued 10 s before: as the form page would have);
4. waits for the last in-flight requests, stops gunicorn (SIGTERM) and counts the stored
   comments: every comment answered 201 must be stored, and every extra row must be one of the
   requests still in flight when wrk stopped (wrk ends on the clock and never reads them);
5. runs the same load against ``benchmarks/reference_app.py`` (Flask and one SQLAlchemy ORM
   insert per request, same engine settings, same gunicorn workers and access log) on its own
   fresh database, and prints the intake's throughput as a share of it.

It exits 1 if any answer was not 201, wrk saw socket errors or timeouts, a comment tripped a
bot trap (the load is meant to look like readers), or the stored comments do not match the
answers; 2 if it could not run. Inherited ``MODERATION_*`` variables are dropped. wrk shares
the machine's cores with the server: the figures are for this whole setup.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / "bin"
LUA_SCRIPT = HERE / "intake.lua"
HOST = "127.0.0.1"
P99_TARGET_MS = 25.0
RATIO_TARGET = 0.50
# The access log line of gunicorn.conf.py, used for the reference too (same logging work).
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
    wrk: str,
    url: str,
    *,
    threads: int,
    connections: int,
    seconds: int,
    timeout: int,
    run_id: str,
    slot: int,
    tokens: Path | None,
) -> WrkResult:
    """One bounded wrk run with intake.lua against ``url`` (see intake.lua for the arguments)."""
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
        str(slot),
        *([str(tokens)] if tokens is not None else []),
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


# --------------------------------------------------------------------------- databases


@dataclass
class Database:
    """A fresh database for one server: its URL, and how to drop it afterwards."""

    url: str
    admin_url: str | None = None  # PostgreSQL: the server's maintenance database
    name: str = ""

    def engine(self) -> Engine:
        """A small engine on this database, for counting rows (never the server's)."""
        return create_engine(self.url, poolclass=NullPool)

    def drop(self) -> None:
        """Drop the PostgreSQL database (SQLite files go with the temporary folder)."""
        if self.admin_url is None:
            return
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with contextlib.suppress(Exception), admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


def new_database(args: argparse.Namespace, workdir: Path, name: str) -> Database:
    """A new, empty database called ``name`` on the chosen backend."""
    if args.database == "sqlite":
        return Database(f"sqlite:///{workdir / name}.db")
    admin_url = args.postgres_url
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise BenchError(f"cannot create database {name} on {admin_url}: {exc}") from exc
    finally:
        admin.dispose()
    return Database(make_url(admin_url).set(database=name).render_as_string(False), admin_url, name)


def count_rows(database: Database, table: str, column: str | None) -> dict[str, int]:
    """Rows of ``table``, by ``column`` when given."""
    engine = database.engine()
    try:
        with engine.connect() as connection:
            if column is None:
                return {"": int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)}
            rows = connection.execute(
                text(f"SELECT {column}, count(*) FROM {table} GROUP BY {column}")
            )
            return {str(key): int(count) for key, count in rows}
    finally:
        engine.dispose()


def bot_trap_count(database: Database) -> int:
    """Stored comments that a bot trap (form token, honeypot) sent to review."""
    codes = (
        "honeypot",
        "too_fast",
        "bad_form_token",
        "replayed_form_token",
        "no_form_token",
        "expired_form_token",
    )
    like = " OR ".join(f"reason_codes LIKE '%,{code},%'" for code in codes)
    engine = database.engine()
    try:
        with engine.connect() as connection:
            return int(connection.scalar(text(f"SELECT count(*) FROM comments WHERE {like}")) or 0)
    finally:
        engine.dispose()


def wait_until_settled(
    database: Database, table: str, *, quiet: float = 1.5, timeout: float = 20.0
) -> None:
    """Wait until the row count stops moving (the requests wrk left in flight are done)."""
    deadline = time.monotonic() + timeout
    last = -1
    since = time.monotonic()
    while time.monotonic() < deadline:
        now = sum(count_rows(database, table, None).values())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def server_times_ms(log_path: Path) -> list[int]:
    """Per-request server time (gunicorn's %(M)s) of the POST /comments lines in the log."""
    pattern = re.compile(r'"POST /comments" \d{3} \S+ (\d+)ms')
    log_text = log_path.read_text(errors="replace")
    return sorted(int(m.group(1)) for m in pattern.finditer(log_text))


def percentile(values: list[int], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, math.ceil(pct / 100 * len(values)) - 1))
    return float(values[rank])


# --------------------------------------------------------------------------- form tokens


def write_form_tokens(
    folder: Path, *, secret_key: str, threads: int, per_thread: int, issued_ago: int = 10
) -> Path:
    """Form tokens as the form page would hand them out ``issued_ago`` seconds ago.

    The same signed ``[issued, nonce]`` as ``GET /comments/form-token`` answers, one file per
    wrk thread. Issued in the past so that no comment is sent "too fast" for a human.
    """
    folder.mkdir()
    signer = URLSafeTimedSerializer(secret_key, salt="form-token")
    issued = int(time.time()) - issued_ago
    for thread in range(1, threads + 1):
        lines = (signer.dumps([issued, secrets.token_hex(8)]) for _ in range(per_thread))
        (folder / f"tokens-{thread}.txt").write_text("\n".join(lines) + "\n")
    return folder


# --------------------------------------------------------------------------- the runs


@dataclass
class Run:
    """One server's benchmark: warm-up and measured wrk runs, its log and what it stored."""

    label: str
    result: WrkResult
    warmup: WrkResult | None
    log_path: Path
    server_ms: list[int]
    stored: dict[str, int] = field(default_factory=dict)
    bot_traps: int = 0


def load(
    args: argparse.Namespace,
    wrk: str,
    server: Server,
    url: str,
    *,
    run_id: str,
    slot: int,
    tokens: tuple[Path, Path] | None,
    settle: Callable[[], None],
) -> tuple[WrkResult | None, WrkResult]:
    """The warm-up and the measured wrk runs against one server."""
    warmup = None
    common = {
        "threads": args.threads,
        "connections": args.connections,
        "timeout": args.timeout,
    }
    if args.warmup > 0:
        print(f"{server.name}: warm-up, {args.warmup} s")
        warmup = run_wrk(
            wrk,
            url,
            seconds=args.warmup,
            run_id=f"{run_id}w",
            slot=slot,
            tokens=tokens[0] if tokens else None,
            **common,
        )
        settle()
    print(f"{server.name}: wrk, {args.duration} s")
    result = run_wrk(
        wrk,
        url,
        seconds=args.duration,
        run_id=run_id,
        slot=slot + 1,
        tokens=tokens[1] if tokens else None,
        **common,
    )
    settle()
    return warmup, result


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env.pop("WEB_CONCURRENCY", None)
    return env


def bench_intake(
    args: argparse.Namespace, wrk: str, workdir: Path, run_id: str, database: Database
) -> Run:
    """Migrate a fresh database, serve the app with every rule on, load it, stop it."""
    env = _clean_env()
    port = free_port()
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    secret_key = secrets.token_hex(32)
    env.update(
        {
            "MODERATION_DATABASE_URL": database.url,
            "MODERATION_SECRET_KEY": secret_key,
            "MODERATION_WORKERS": str(args.workers),
            # One proxy in front, as in deploy/: the reader's address is X-Forwarded-For's.
            "MODERATION_PROXY_FIX_X_FOR": "1",
            # Events are queued with each comment (the intake's part of webhooks); nothing
            # listens there, and the deliverer is not started.
            "MODERATION_WEBHOOK_URL": f"http://{HOST}:9/webhook",
            "MODERATION_WEBHOOK_SECRETS": secrets.token_hex(16),
            # Keep the trained models (if any) of this checkout out of it: the shipped model.
            "MODERATION_MODELS_DIR": str(workdir / "models"),
            "HOST": HOST,
            "PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
    )
    if args.ratelimit_storage:
        env["MODERATION_RATELIMIT_STORAGE_URI"] = args.ratelimit_storage
    env["MODERATION_SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous
    print(f"intake: migrating {database.url}")
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
    per_thread = 3000 * (args.duration + args.warmup) // args.threads + 1000
    print(f"intake: signing {2 * per_thread * args.threads} form tokens")
    tokens = (
        write_form_tokens(
            workdir / "tokens-warmup",
            secret_key=secret_key,
            threads=args.threads,
            per_thread=per_thread,
        ),
        write_form_tokens(
            workdir / "tokens", secret_key=secret_key, threads=args.threads, per_thread=per_thread
        ),
    )

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
        warmup, result = load(
            args,
            wrk,
            server,
            f"http://{HOST}:{port}/comments",
            run_id=run_id,
            slot=0,
            tokens=tokens,
            settle=lambda: wait_until_settled(database, "comments"),
        )
    finally:
        server.stop()
    return Run(
        "intake",
        result,
        warmup,
        log_path,
        server_times_ms(log_path),
        stored=count_rows(database, "comments", "status"),
        bot_traps=bot_trap_count(database),
    )


def bench_reference(
    args: argparse.Namespace, wrk: str, workdir: Path, run_id: str, database: Database
) -> Run:
    """The same load against reference_app.py, same gunicorn settings, its own database."""
    port = free_port()
    env = _clean_env()
    env["REFERENCE_DATABASE_URL"] = database.url
    env["REFERENCE_SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    log_path = workdir / "reference-gunicorn.log"
    server = start_server(
        "reference",
        gunicorn_args(
            f"--workers={args.workers}",
            "--threads=1",
            f"--bind={HOST}:{port}",
            "--preload",
            "--access-logfile=-",
            "--error-logfile=-",
            f"--access-logformat={ACCESS_LOG_FORMAT}",
            "reference_app:app",
        ),
        cwd=HERE,
        env=env,
        log_path=log_path,
    )
    try:
        url = f"http://{HOST}:{port}/comments"
        print(f"reference: gunicorn on {HOST}:{port}, waiting for it to answer")
        wait_until_answering(server, url, method="POST", body=b"{}", status=201, timeout=60)
        warmup, result = load(
            args,
            wrk,
            server,
            url,
            run_id=f"{run_id}r",
            slot=10,
            tokens=None,
            settle=lambda: wait_until_settled(database, "reference_comments"),
        )
    finally:
        server.stop()
    return Run(
        "reference",
        result,
        warmup,
        log_path,
        server_times_ms(log_path),
        stored={"": count_rows(database, "reference_comments", None)[""] - 1},  # - the probe
    )


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


def _check_stored(run: Run, failures: list[str]) -> None:
    runs = [run.result] + ([run.warmup] if run.warmup else [])
    accepted = sum(r.created for r in runs)
    in_flight = sum(r.in_flight_at_end for r in runs)
    total = sum(run.stored.values())
    print(
        f"{run.label}: stored {total}; 201 answers {accepted} (warm-up included); "
        f"in flight when wrk stopped {in_flight}: ",
        end="",
    )
    if total == accepted:
        print("stored == 201 answers, nothing lost")
    elif accepted <= total <= accepted + in_flight:
        print(
            f"stored == 201 answers + {total - accepted} of the requests in flight (wrk stops on "
            "the clock and never reads those answers): nothing lost"
        )
    else:
        print(f"MISMATCH by {total - accepted}")
        failures.append(
            f"{run.label}: stored ({total}) != 201 answers ({accepted}) "
            f"+ up to {in_flight} in flight"
        )


def report(
    args: argparse.Namespace,
    wrk: str,
    intake: Run,
    reference: Run,
    load_before: tuple[float, float, float],
) -> list[str]:
    """Print the report; return the reasons the run failed (empty when it passed)."""
    failures: list[str] = []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print()
    print(f"=== comment intake load benchmark ({args.database}) ===")
    print(
        f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"wrk {_wrk_version(wrk)} (wrk runs on the same cores as the server)"
    )
    load_text = ", ".join(f"{x:.2f}" for x in load_before)
    busy = " (not idle: figures may be lower and noisier)" if load_before[0] > 0.5 else ""
    print(f"load average before the run (1, 5, 15 min): {load_text}{busy}")
    print(
        f"servers: gunicorn, {args.workers} sync workers x 1 thread, on {HOST}; {args.database}"
        + (f" (synchronous={args.sqlite_synchronous})" if args.database == "sqlite" else "")
        + "; "
        "intake: shipped model, flood rule, per-address rate limit "
        f"({args.ratelimit_storage or 'memory'}), form tokens, webhook outbox"
    )
    print(
        f"load: wrk {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s (after a {args.warmup} s warm-up), --timeout {args.timeout} s; "
        "a distinct JSON comment per request, each from its own address with its own form token"
    )
    print()
    print(
        f"{'':10} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-201':>8} {'sock err':>9} {'server p50/p99 ms':>18}"
    )
    for run in (intake, reference):
        r = run.result
        errors = sum(r.socket_errors.values())
        server = f"{percentile(run.server_ms, 50):.0f}/{percentile(run.server_ms, 99):.0f}"
        print(
            f"{run.label:10} {r.requests:>9} {r.requests_per_s:>9.1f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.not_created:>8} {errors:>9} {server:>18}"
        )
        for label, wrk_run in ((run.label, r), (f"{run.label} warm-up", run.warmup)):
            if wrk_run is None:
                continue
            if wrk_run.not_created:
                codes = ", ".join(
                    f"{c}: {n}" for c, n in sorted(wrk_run.statuses.items()) if c != 201
                )
                failures.append(f"{label}: {wrk_run.not_created} answers were not 201 ({codes})")
            if sum(wrk_run.socket_errors.values()):
                failures.append(f"{label}: wrk socket errors {wrk_run.socket_errors}")
    print("(server p50/p99: gunicorn's own time per request from its access log, whole ms;")
    print(" the rest of wrk's latency is waiting in the listen queue and on the shared cores)")
    print()
    ratio = intake.result.requests_per_s / reference.result.requests_per_s
    print(
        f"throughput intake/reference: {ratio:.3f} "
        f"({intake.result.requests_per_s:.1f} / {reference.result.requests_per_s:.1f} req/s; "
        f"target >= {RATIO_TARGET:.2f}: {'met' if ratio >= RATIO_TARGET else 'MISSED'})"
    )
    p99 = intake.result.p99_ms
    verdict = "met" if p99 <= P99_TARGET_MS else "MISSED"
    print(
        f"intake p99 {p99:.2f} ms at {args.connections} connections "
        f"(target <= {P99_TARGET_MS:.0f} ms on SQLite: {verdict})"
    )
    by_status = ", ".join(f"{s} {n}" for s, n in sorted(intake.stored.items()))
    print(f"intake decisions: {by_status}")
    if intake.bot_traps:
        failures.append(
            f"{intake.bot_traps} comments tripped a bot trap (form token or honeypot): the "
            "load did not look like readers"
        )
    _check_stored(intake, failures)
    _check_stored(reference, failures)
    return failures


# --------------------------------------------------------------------------- main


class Interrupted(Exception):
    """SIGTERM or SIGHUP: stop, cleaning up as for Ctrl-C."""


def _terminate(signum: int, _frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main() -> int:
    """Run both benchmarks and print the report; the exit status says whether all was well."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server's maintenance database (--database postgresql makes two "
        "databases there and drops them at the end)",
    )
    parser.add_argument(
        "--ratelimit-storage",
        default="",
        help="MODERATION_RATELIMIT_STORAGE_URI for the service (default: each worker's memory)",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="SQLite's synchronous pragma for both servers (default FULL, the service's)",
    )
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
    if not 1 <= args.threads <= 4 or args.connections < args.threads:
        parser.error("1 to 4 wrk threads, and at least one connection per thread")
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
    databases: list[Database] = []
    try:
        databases.append(new_database(args, workdir, f"bench_intake_{run_id}"))
        intake = bench_intake(args, wrk, workdir, run_id, databases[-1])
        databases.append(new_database(args, workdir, f"bench_reference_{run_id}"))
        reference = bench_reference(args, wrk, workdir, run_id, databases[-1])
        failures = report(args, wrk, intake, reference, load_before)
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
        for database in databases:
            database.drop()
        if args.keep or status != 0:
            print(f"logs and database kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
