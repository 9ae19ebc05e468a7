"""Running the real CoreDNS on loopback, and DNS queries to it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dns", reason="tests/realbin needs `pip install dnspython==2.9.2`")

import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

from .binaries import ManagedProcess, free_port, require_tool, spawn, wait_for  # noqa: E402


@dataclass(frozen=True)
class DNSAnswer:
    rcode: str
    records: list[str]  # rdata text of the answer RRs of the asked type, sorted


def dns_query(
    name: str,
    rdtype: str = "A",
    *,
    port: int,
    server: str = "127.0.0.1",
    timeout: float = 2.0,
    tcp: bool = False,
) -> DNSAnswer:
    """One DNS query to a loopback server (raises dns.exception.Timeout on no answer)."""
    q = dns.message.make_query(name, rdtype)
    if tcp:
        resp = dns.query.tcp(q, server, port=port, timeout=timeout)
    else:
        resp = dns.query.udp(q, server, port=port, timeout=timeout)
    want = dns.rdatatype.from_text(rdtype)
    records = sorted(rd.to_text() for rrset in resp.answer if rrset.rdtype == want for rd in rrset)
    return DNSAnswer(dns.rcode.to_text(resp.rcode()), records)


@dataclass
class CoreDNS:
    """A running coredns; `port` is its default DNS port (-dns.port)."""

    port: int
    corefile: Path
    process: ManagedProcess

    def query(self, name: str, rdtype: str = "A", **kw: Any) -> DNSAnswer:
        return dns_query(name, rdtype, port=self.port, **kw)

    def write_corefile(self, text: str) -> None:
        """Replace the Corefile in place (picked up if it uses the `reload` plugin)."""
        tmp = self.corefile.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.corefile)

    def wait_for_answer(
        self, name: str, rdtype: str, expect: Callable[[DNSAnswer], bool], timeout: float = 20.0
    ) -> DNSAnswer:
        def check() -> DNSAnswer | None:
            ans = self.query(name, rdtype, timeout=1.0)
            return ans if expect(ans) else None

        return wait_for(f"{rdtype} {name} on :{self.port}", check, timeout, 0.2, [self.process])

    def stop(self) -> None:
        self.process.stop()


def start_coredns(corefile: str, workdir: Path, *, port: int | None = None, timeout: float = 20.0) -> CoreDNS:
    """Start the real coredns with `corefile` (server blocks without a port use `port`).

    Returns once the server answers a query at all (any rcode). `{port}` in the Corefile
    text is replaced by the chosen port.
    """
    binary = require_tool("coredns")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "Corefile"
    path.write_text(corefile.replace("{port}", str(port)))
    proc = spawn(
        "coredns",
        [binary, "-conf", path, "-dns.port", str(port)],
        workdir / "coredns.log",
        cwd=workdir,
    )
    server = CoreDNS(port, path, proc)
    try:
        wait_for(
            f"coredns on 127.0.0.1:{port}",
            lambda: _answers(port),
            timeout,
            0.2,
            [proc],
        )
    except BaseException:
        proc.stop()
        raise
    return server


def _answers(port: int) -> bool:
    try:
        dns_query("probe.homelab-test.invalid.", "A", port=port, timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return False
    return True


@contextlib.contextmanager
def running_coredns(corefile: str, workdir: Path, **kw: Any) -> Iterator[CoreDNS]:
    """Context-managed start_coredns()."""
    server = start_coredns(corefile, workdir, **kw)
    try:
        yield server
    finally:
        server.stop()
