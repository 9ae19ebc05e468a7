"""The preflight probe: one read-only shell script that prints facts, and their parser. Pure.

The script changes nothing on the host: it only reads files and runs `id`, `ip`, `ss`,
`df`, `stat`, `date` (and `sudo -n` for the two root-only reads). Each fact is one
`key=value` line; keys that repeat (iface, addr, swap, listen) add to a list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROBE_VERSION = "1"


def probe_script() -> str:
    return f"""export LC_ALL=C
echo "probe={PROBE_VERSION}"
echo "time=$(date +%s.%N)"
echo "user=$(id -un)"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; echo "sudo=root"
elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; echo "sudo=yes"
else SUDO=""; echo "sudo=no"; fi
if [ -r /etc/os-release ]; then . /etc/os-release; fi
echo "os_id=${{ID:-}}"
echo "os_version=${{VERSION_ID:-}}"
echo "os_name=${{PRETTY_NAME:-}}"
echo "hostname=$(hostname 2>/dev/null || cat /etc/hostname)"
for d in /sys/class/net/*; do
  n="${{d##*/}}"
  [ "$n" = lo ] && continue
  phys=0; [ -e "$d/device" ] && phys=1
  echo "iface=$n $(cat "$d/address" 2>/dev/null) $phys"
done
ip -o -4 addr show 2>/dev/null | awk '{{print "addr=" $2 " " $4}}'
echo "product_uuid=$($SUDO cat /sys/class/dmi/id/product_uuid 2>/dev/null || true)"
echo "machine_id=$(cat /etc/machine-id 2>/dev/null || true)"
awk 'NR > 1 {{print "swap=" $1}}' /proc/swaps 2>/dev/null
echo "cgroup_fs=$(stat -fc %T /sys/fs/cgroup 2>/dev/null)"
if [ -d /etc/kubernetes/homelab ]; then echo "member=1"; else echo "member=0"; fi
if command -v ss >/dev/null 2>&1; then
  ss -Hltn 2>/dev/null | awk '{{print "listen=" $4}}'
else
  awk 'FNR > 1 && $4 == "0A" {{print "listen_hex=" $2}}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
fi
df -Pk /var/lib 2>/dev/null | awk 'NR == 2 {{print "var_lib_free_kib=" $4}}'
echo "end=1"
"""


@dataclass
class Facts:
    """What one host reported. Fields stay empty when the probe could not read them."""

    complete: bool = False  # the probe ran to its last line
    time: float | None = None
    user: str = ""
    sudo: str = ""  # root | yes | no
    os_id: str = ""
    os_version: str = ""
    os_name: str = ""
    hostname: str = ""
    interfaces: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (mac, physical)
    addresses: dict[str, str] = field(default_factory=dict)  # IPv4 -> interface
    product_uuid: str = ""
    machine_id: str = ""
    swaps: list[str] = field(default_factory=list)
    cgroup_fs: str = ""
    member: bool = False  # /etc/kubernetes/homelab exists: the node is in a cluster already
    listening: set[int] = field(default_factory=set)
    var_lib_free_kib: int | None = None


def _port(local: str) -> int | None:
    # ss prints 0.0.0.0:6443, [::]:2379, *:10250, 127.0.0.1:2381
    text = local.rsplit(":", 1)[-1]
    return int(text) if text.isdigit() else None


def parse_facts(stdout: str) -> Facts:
    f = Facts()
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if key == "end":
            f.complete = True
        elif key == "time":
            try:
                f.time = float(value)
            except ValueError:
                f.time = None
        elif key in ("user", "sudo", "os_id", "os_version", "os_name", "hostname", "cgroup_fs"):
            setattr(f, key, value)
        elif key == "product_uuid":
            f.product_uuid = value.lower()
        elif key == "machine_id":
            f.machine_id = value
        elif key == "iface":
            parts = value.split()
            if len(parts) >= 2:
                f.interfaces[parts[0]] = (parts[1].lower(), len(parts) > 2 and parts[2] == "1")
        elif key == "addr":
            parts = value.split()
            if len(parts) == 2:
                f.addresses[parts[1].split("/")[0]] = parts[0]
        elif key == "swap" and value:
            f.swaps.append(value)
        elif key == "member":
            f.member = value == "1"
        elif key == "listen":
            if (port := _port(value)) is not None:
                f.listening.add(port)
        elif key == "listen_hex":
            try:
                f.listening.add(int(value.rsplit(":", 1)[-1], 16))
            except ValueError:
                pass
        elif key == "var_lib_free_kib":
            f.var_lib_free_kib = int(value) if value.isdigit() else None
    return f
