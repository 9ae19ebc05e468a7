"""The host harness itself: ssh works to every node, and nodes reach each other."""

from __future__ import annotations

import subprocess

from tests.e2e.hosts import E2EHost


def test_ssh_true_on_every_host(e2e_hosts: list[E2EHost]) -> None:
    assert len(e2e_hosts) >= 2
    for h in e2e_hosts:
        res = h.ssh("true")
        assert res.returncode == 0, f"{h}: {res.stderr}"


def test_host_identity_and_private_dirs(e2e_hosts: list[E2EHost]) -> None:
    for h in e2e_hosts:
        res = h.ssh(f"hostname && echo {h.name} > /etc/kubernetes/whoami && cat /etc/kubernetes/whoami")
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == [h.name, h.name]
        assert (h.root / "etc/kubernetes/whoami").read_text().strip() == h.name
    # each node still sees only its own file
    for h in e2e_hosts:
        assert h.ssh("cat /etc/kubernetes/whoami").stdout.strip() == h.name


def test_hosts_reach_each_other(e2e_hosts: list[E2EHost]) -> None:
    for a in e2e_hosts:
        for b in e2e_hosts:
            if a is b:
                continue
            # by name (per-node /etc/hosts) and by address, to b's sshd
            probe = f"getent hosts {b.name} && exec 3<>/dev/tcp/{b.address}/22 && head -c 7 <&3"
            res = a.ssh(f"bash -c '{probe}'")
            assert res.returncode == 0, f"{a.name} -> {b.name}: {res.stderr}"
            assert b.address in res.stdout and "SSH-2.0" in res.stdout


def test_isolated_from_root_namespace_interfaces(e2e_hosts: list[E2EHost]) -> None:
    h = e2e_hosts[0]
    argv = ["ip", "netns", "exec", h.netns, "ip", "-o", "-4", "addr"]
    res = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert h.address in res.stdout
    assert "eth0" in res.stdout and res.stdout.count("inet ") == 2  # lo + eth0 only
