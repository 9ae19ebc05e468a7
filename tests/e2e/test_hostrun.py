"""tools.hostrun against real sshd hosts: order, data flow, state, deletes, failures.

The hosts are the netns + sshd test hosts (tests/e2e/hosts.py); the commands are plain
shell, so this runs without any Kubernetes binary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi_command import remote

from tests.e2e.hosts import E2EHost
from tools.hostrun import CommandFailed, run_program

pytestmark = pytest.mark.e2e

MARK = "/etc/kubernetes/hostrun-test"  # a per-host private dir of the test hosts


def conn(host: E2EHost, *, host_key: str | None = None, address: str | None = None) -> remote.ConnectionArgs:
    return remote.ConnectionArgs(
        host=address or host.address,
        user=host.user,
        private_key=pulumi.Output.secret(host.private_key_pem),
        host_key=host_key if host_key is not None else host.host_key_pub,
    )


def program(hosts: list[E2EHost], *, with_c: bool = True, trigger: str = "1", fail: bool = False) -> Callable[[], Any]:
    a_host, b_host = hosts[0], hosts[1]

    def body() -> None:
        a = remote.Command(
            "a",
            connection=conn(a_host),
            create=f"mkdir -p {MARK}; date +%s%N >> {MARK}/a.runs; echo token-from-$(hostname)",
        )
        # b's script is made from a's real stdout, as a join script is from its token.
        remote.Command(
            "b",
            connection=conn(b_host),
            create="bash -s",
            stdin=a.stdout.apply(lambda out: f"mkdir -p {MARK}; echo '{out.strip()}' > {MARK}/b.got\n"),
        )
        if with_c:
            remote.Command(
                "c",
                connection=conn(b_host),
                create=f"mkdir -p {MARK}; echo created >> {MARK}/c.log",
                delete=f"echo deleted >> {MARK}/c.log",
                triggers=[trigger],
                opts=pulumi.ResourceOptions(depends_on=[a]),
            )
        if fail:
            remote.Command("bad", connection=conn(a_host), create="echo oops >&2; exit 3")

    return body


def read(host: E2EHost, path: str) -> str:
    res = host.ssh("cat", path)
    return res.stdout if res.returncode == 0 else ""


def clean(hosts: list[E2EHost]) -> None:
    for h in hosts:
        h.ssh("rm", "-rf", MARK)


def test_order_data_state_deletes(e2e_hosts: list[E2EHost], tmp_path: Path) -> None:
    clean(e2e_hosts)
    a_host, b_host = e2e_hosts[0], e2e_hosts[1]
    state = tmp_path / "state.json"

    first = run_program(program(e2e_hosts), {}, [], state)
    assert sorted(e.name for e in first.executed) == ["a", "b", "c"]
    names = [e.name for e in first.executed]
    assert names.index("a") < names.index("b") and names.index("a") < names.index("c")
    # b ran a script made from a's stdout on the other host.
    assert read(b_host, f"{MARK}/b.got").strip() == f"token-from-{a_host.name}"
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert a_host.private_key_pem.strip() not in state.read_text()

    # Nothing changed: nothing runs, and outputs come from the state.
    again = run_program(program(e2e_hosts), {}, [], state)
    assert again.executed == []
    assert len(read(a_host, f"{MARK}/a.runs").splitlines()) == 1

    # always=True runs every create again (the idempotency check of the scripts).
    forced = run_program(program(e2e_hosts), {}, [], state, always=True)
    assert sorted(e.name for e in forced.executed) == ["a", "b", "c"]

    # A changed trigger replaces: delete, then create.
    replaced = run_program(program(e2e_hosts, trigger="2"), {}, [], state)
    assert [(e.name, e.action) for e in replaced.executed] == [("c", "replace"), ("c", "create")]
    assert read(b_host, f"{MARK}/c.log").split() == ["created", "created", "deleted", "created"]

    # Gone from the program: its delete runs, and it leaves the state.
    removed = run_program(program(e2e_hosts, with_c=False), {}, [], state)
    assert [(e.name, e.action) for e in removed.executed] == [("c", "delete")]
    assert read(b_host, f"{MARK}/c.log").split()[-1] == "deleted"
    assert "c" not in state.read_text().split('"name": ')[1:] and len(removed.deleted) == 1
    clean(e2e_hosts)


def test_failure_names_command_and_host(e2e_hosts: list[E2EHost], tmp_path: Path) -> None:
    clean(e2e_hosts)
    state = tmp_path / "state.json"
    with pytest.raises(CommandFailed) as err:
        run_program(program(e2e_hosts, fail=True), {}, [], state)
    text = str(err.value)
    assert "bad" in text and e2e_hosts[0].address in text and "exited 3" in text and "oops" in text
    # What succeeded is kept (commands already running were let finish and were saved):
    # the next run (without the failing command) runs only what had not run, never `a` again.
    after = run_program(program(e2e_hosts), {}, [], state)
    assert "a" not in {e.name for e in after.executed}
    assert len(read(e2e_hosts[0], f"{MARK}/a.runs").splitlines()) == 1
    assert read(e2e_hosts[1], f"{MARK}/b.got").strip() == f"token-from-{e2e_hosts[0].name}"
    assert run_program(program(e2e_hosts), {}, [], state).executed == []
    clean(e2e_hosts)


def test_wrong_host_key_and_unreachable(e2e_hosts: list[E2EHost], tmp_path: Path) -> None:
    other = e2e_hosts[1].host_key_pub

    def wrong_key() -> None:
        remote.Command("pinned", connection=conn(e2e_hosts[0], host_key=other), create="true")

    with pytest.raises(CommandFailed) as err:
        run_program(wrong_key, {}, [], tmp_path / "s1.json")
    assert "pinned" in str(err.value) and e2e_hosts[0].address in str(err.value)
    assert "host key" in str(err.value).lower()

    # An address on the test bridge where no host answers.
    absent = e2e_hosts[0].address.rsplit(".", 1)[0] + ".250"

    def unreachable() -> None:
        remote.Command("gone", connection=conn(e2e_hosts[0], address=absent), create="true")

    with pytest.raises(CommandFailed) as err:
        run_program(unreachable, {}, [], tmp_path / "s2.json")
    assert "gone" in str(err.value) and absent in str(err.value)
