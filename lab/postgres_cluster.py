"""A throw-away PostgreSQL cluster under a temporary directory, from Debian's `postgresql`
binaries: for the store's tests, the benchmarks and (later) the failover lab.

initdb refuses to run as root, so as root the cluster belongs to a system user
`acdgate-test` (created when missing); otherwise to whoever runs it. The server listens on
127.0.0.1 on a free port with its socket in the cluster's directory, trusts local
connections, and is stopped (and its directory removed) by `stop`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

CLUSTER_USER = "acdgate-test"  # the system user that owns the cluster when we are root
DB_USER = "acdgate"  # the cluster's superuser (initdb -U)
INSTALL_HINT = "install Debian's PostgreSQL server: apt-get install -y postgresql"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the cluster would not start (says why)."""


def server_bin_dir() -> Path:
    """The newest installed `/usr/lib/postgresql/N/bin` that has initdb and pg_ctl."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if not found:
        raise PostgresUnavailable(f"no PostgreSQL server (/usr/lib/postgresql/*/bin/initdb): {INSTALL_HINT}")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """One running throw-away server; `url(db)` for a database on it."""

    def __init__(self) -> None:
        self.bin = server_bin_dir()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="acdgate-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            _ensure_user(CLUSTER_USER)
            user = pwd.getpwnam(CLUSTER_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", CLUSTER_USER, "--"]
        self._databases = 0

    def start(self) -> PostgresCluster:
        """initdb, start, wait until it accepts connections (pg_ctl -w, then pg_isready)."""
        self._run("initdb", "-D", str(self.data), "-U", DB_USER, "--auth=trust", "-E", "UTF8",
                  "--no-instructions")
        options = f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-t", "30")
        return self

    def url(self, database: str = "postgres") -> str:
        """A URL for `database` on this server, as the cluster's superuser."""
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (named `name`, else the next `test_N`); its URL."""
        if name is None:
            self._databases += 1
            name = f"test_{self._databases}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, name)
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as, str(self.bin / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}{log}")


def _ensure_user(name: str) -> None:
    """Create the system user `name` (no home, no shell) unless it exists."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True, timeout=60)
