"""Choosing the store: `--store URL` (or the site file's `[store] url`; the command line wins),
SQLite otherwise. A store that cannot be used stops start-up with the URL, its password
masked, and the reason: exit status 2, no traceback. `acdgate report --store URL` reads the
journal from PostgreSQL."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from acdgate.acd.commands import Login, SetState
from acdgate.acd.config import ConfigError, parse_site
from acdgate.acd.site_format import format_site
from acdgate.acd.states import AgentState
from acdgate.gateway.agents.acd_service import AcdService
from acdgate.gateway.site_loader import demo_site_text, load_site
from acdgate.gateway.storage.contract import StoreError
from acdgate.gateway.storage.location import choose_url, open_store
from acdgate.gateway.storage.postgres_store import PostgresStore, mask_url
from acdgate.lab.postgres_cluster import PostgresCluster
from twisted.internet import task

ACDGATE = [sys.executable, "-m", "acdgate.gateway.cli"]
START = 1_800_000_000


def acdgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ACDGATE, *args], capture_output=True, text=True, timeout=60)


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://bob:s3cret@db.example:5433/acd", "postgresql://bob:***@db.example:5433/acd"),
    ("postgres://bob@db.example/acd", "postgres://bob@db.example/acd"),
    ("postgresql://db.example/acd?user=bob&password=s3cret&sslmode=require",
     "postgresql://db.example/acd?user=bob&password=***&sslmode=require"),
    ("postgresql://bob:p%40ss@[2001:db8::1]/acd", "postgresql://bob:***@[2001:db8::1]/acd"),
])
def test_the_password_is_masked_wherever_the_url_carries_it(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_the_command_line_wins_over_the_site_file() -> None:
    assert choose_url("postgresql://a/x", "postgresql://b/y") == "postgresql://a/x"
    assert choose_url(None, "postgresql://b/y") == "postgresql://b/y"
    assert choose_url(None, None) is None


def test_a_url_of_another_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as raised:
        open_store("mysql://bob:s3cret@db/acd", tmp_path)
    assert str(raised.value).startswith("mysql://bob:***@db/acd: not a store URL: give postgresql://")
    assert "s3cret" not in str(raised.value)


def test_no_server_there_names_the_masked_url_and_the_reason(tmp_path: Path) -> None:
    port = closed_port()
    with pytest.raises(StoreError) as raised:
        open_store(f"postgresql://bob:s3cret@127.0.0.1:{port}/acd", tmp_path)
    message = str(raised.value)
    assert message.startswith(f"postgresql://bob:***@127.0.0.1:{port}/acd: cannot connect: ")
    assert "refused" in message and "s3cret" not in message


def test_a_database_that_does_not_exist_is_named(postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = f"postgresql://acdgate:s3cret@127.0.0.1:{postgres_cluster.port}/no_such_db"
    with pytest.raises(StoreError, match='database "no_such_db" does not exist'):
        open_store(url, tmp_path)


def test_run_stops_with_status_2_and_no_traceback(tmp_path: Path) -> None:
    port = closed_port()
    result = acdgate("run", "--store", f"postgresql://bob:s3cret@127.0.0.1:{port}/acd",
                     "--state-dir", str(tmp_path / "state"), "--sip-port", "0", "--http-port", "0",
                     "--h323-ras-port", "0", "--h323-port", "0", "--bind", "127.0.0.1")
    assert result.returncode == 2
    assert f"acdgate: cannot use the state store postgresql://bob:***@127.0.0.1:{port}/acd: cannot connect: " \
        in result.stderr
    assert "s3cret" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def _site_with_store(tmp_path: Path, url: str) -> Path:
    site = tmp_path / "site.toml"
    site.write_text(demo_site_text() + f'\n[store]\nurl = "{url}"\n')
    return site


def test_run_uses_the_site_files_url_unless_the_command_line_gives_one(tmp_path: Path) -> None:
    site_port, cli_port = closed_port(), closed_port()
    site = _site_with_store(tmp_path, f"postgresql://site:pw1@127.0.0.1:{site_port}/acd")
    common = ["--config", str(site), "--state-dir", str(tmp_path / "state"), "--sip-port", "0",
              "--http-port", "0", "--h323-ras-port", "0", "--h323-port", "0", "--bind", "127.0.0.1"]
    from_site = acdgate("run", *common)
    assert from_site.returncode == 2 and f"postgresql://site:***@127.0.0.1:{site_port}/acd" in from_site.stderr
    from_cli = acdgate("run", *common, "--store", f"postgresql://cli:pw2@127.0.0.1:{cli_port}/acd")
    assert from_cli.returncode == 2 and f"postgresql://cli:***@127.0.0.1:{cli_port}/acd" in from_cli.stderr
    assert "site:" not in from_cli.stderr


def test_the_site_files_store_url_is_checked_and_round_trips() -> None:
    site = parse_site(demo_site_text() + '\n[store]\nurl = "postgresql://acd:pw@db/acd"\n')
    assert site.store.url == "postgresql://acd:pw@db/acd" and "pw" not in repr(site.store)
    assert parse_site(format_site(site)).store == site.store
    assert parse_site(demo_site_text()).store.url is None
    with pytest.raises(ConfigError) as raised:
        parse_site(demo_site_text() + '\n[store]\nurl = "mysql://acd:pw@db/acd"\nurls = 1\n')
    message = str(raised.value)
    assert "store.url: must be a PostgreSQL URL" in message and "store.urls: unknown key" in message
    assert "pw@" not in message


def test_report_reads_the_journal_from_postgresql(postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = postgres_cluster.create_database()
    clock = task.Clock()
    clock.advance(START)
    service = AcdService(clock, load_site(None), open_store(url, tmp_path))
    service.execute(Login("3000", "1234", "2101"))
    clock.advance(60)
    service.execute(SetState("3000", AgentState.NOT_READY, reason_code=1))
    clock.advance(900)
    service.execute(SetState("3000", AgentState.READY))
    service.stop()
    service.store.close()
    # no --state-dir there: the journal comes from the URL alone
    result = acdgate("report", "--store", url, "--state-dir", str(tmp_path / "nowhere"),
                     "--from", str(START), "--to", str(START + 3600), "--format", "json")
    assert result.returncode == 0, result.stderr
    periods = [(p["seconds"], p["code"]) for p in json.loads(result.stdout)["agents"]["not_ready_periods"]]
    assert periods == [(60, None), (900, 1)]
    refused = acdgate("report", "--store", f"postgresql://bob:s3cret@127.0.0.1:{closed_port()}/acd")
    assert refused.returncode == 2 and "bob:***@" in refused.stderr and "s3cret" not in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_connection_is_bounded_in_time_unless_the_url_says_otherwise(
        postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    def options(url: str) -> dict[bytes, bytes | None]:
        store = PostgresStore(url, tmp_path)
        try:
            return {o.keyword: o.val for o in store._db.pgconn.info}
        finally:
            store.close()

    url = postgres_cluster.create_database()
    assert options(url)[b"connect_timeout"] == b"5" and options(url)[b"tcp_user_timeout"] == b"5000"
    chosen = options(url + "?connect_timeout=2&tcp_user_timeout=800")
    assert chosen[b"connect_timeout"] == b"2" and chosen[b"tcp_user_timeout"] == b"800"
