"""Run the program's host commands on real machines, without the Pulumi engine.

No registry here serves the pulumi-command provider, so this stands in for it: the
program runs under the SDK's mock runtime, and every `command:remote:Command` it
registers is run over SSH the moment the mock monitor receives it. The SDK registers a
resource only after its dependencies have resolved, so commands run in the engine's
order, and their real stdout (a join token, the kubeconfig) flows into the commands
that read it, as with the provider.

Like the engine, a run keeps state (per command: an input digest and the outputs) in a
JSON file (mode 0600: it holds the kubeconfig and join tokens, as Pulumi's state does,
but unencrypted; keep it where only root reads). A later run:
- skips a command whose inputs are unchanged (returns the recorded outputs),
- replaces one whose `triggers` changed (delete, then create) and re-runs `update`
  (or `create`, as the provider does when `update` is unset) when other inputs changed,
- runs the delete commands of those the program no longer registers, dependents first.
`always=True` runs every script again (create, or update where there is no create): that
is how tests show the scripts idempotent.

    python -m tools.hostrun up STACK [--state FILE] [--always]
    python -m tools.hostrun destroy STACK [--state FILE]
    python -m tools.hostrun kubeconfig STACK [--state FILE] > lab.kubeconfig
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import mocks as pmocks

from tools.mockrun import ROOT, RecordingMonitor, _strip, run

COMMAND = "command:remote:Command"
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=15", "-o", "LogLevel=ERROR")


class CommandFailed(RuntimeError):
    """A host command exited non-zero; the message names the command and the host."""


@dataclasses.dataclass(frozen=True)
class Connection:
    host: str
    port: int
    user: str
    host_key: str | None
    private_key: str = dataclasses.field(repr=False, default="")

    @classmethod
    def from_inputs(cls, raw: Mapping[str, Any]) -> Connection:
        return cls(
            host=str(raw["host"]),
            port=int(raw.get("port") or 22),
            user=str(raw.get("user") or "root"),
            host_key=raw.get("hostKey") or None,
            private_key=str(raw.get("privateKey") or ""),
        )

    @property
    def key_digest(self) -> str:
        return hashlib.sha256(self.private_key.encode()).hexdigest()

    def public(self) -> dict[str, Any]:
        """What the state keeps: never the private key, only its digest."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "hostKey": self.host_key,
            "keyDigest": self.key_digest,
        }


@dataclasses.dataclass
class Executed:
    """One command run on a host, for the run's report (figures per script)."""

    name: str
    host: str
    action: str  # create | update | delete | replace
    seconds: float
    finished: float = 0.0  # time.monotonic() when it ended


def known_hosts_line(conn: Connection) -> str:
    host = conn.host if conn.port == 22 else f"[{conn.host}]:{conn.port}"
    return f"{host} {conn.host_key}\n"


@contextmanager
def ssh_argv(conn: Connection) -> Iterator[list[str]]:
    """argv prefix for `ssh` to `conn`: the key in a 0600 temp file, the host key pinned if known."""
    with tempfile.TemporaryDirectory(prefix="homelab-ssh-") as tmp:
        key = Path(tmp) / "id"
        key.touch(mode=0o600)
        key.write_text(conn.private_key if conn.private_key.endswith("\n") else conn.private_key + "\n")
        argv = ["ssh", "-i", str(key), *SSH_OPTIONS, "-p", str(conn.port)]
        if conn.host_key:
            kh = Path(tmp) / "known_hosts"
            kh.write_text(known_hosts_line(conn))
            argv += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={kh}"]
        else:
            # As the provider without a pinned hostKey: any host key is accepted.
            argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        yield [*argv, f"{conn.user}@{conn.host}", "--"]


def run_remote(conn: Connection, command: str, stdin: str | None, timeout: float) -> subprocess.CompletedProcess[str]:
    with ssh_argv(conn) as argv:
        return subprocess.run(
            [*argv, command],
            input=stdin or "",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def command_digest(inputs: Mapping[str, Any], ignore: list[str]) -> str:
    """What decides whether a command re-runs: its inputs less ignored ones and the key."""
    kept = {k: v for k, v in inputs.items() if k not in ignore and k not in ("triggers", "connection")}
    conn = Connection.from_inputs(inputs["connection"]).public()
    return digest({"inputs": kept, "connection": conn})


SECRET_LINE = re.compile(r"token|certificate-key|PRIVATE KEY|client-key", re.IGNORECASE)


def _without_secrets(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not SECRET_LINE.search(line))


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


class HostRunner:
    """Executes commands as the mock monitor receives them; keeps the state file current."""

    def __init__(
        self,
        state_path: Path,
        *,
        always: bool = False,
        timeout: float = 1800,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.state_path = state_path
        self.always = always
        self.timeout = timeout
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.state: dict[str, Any] = self._load()
        self.seen: set[str] = set()
        self.executed: list[Executed] = []
        self.outputs: dict[str, dict[str, Any]] = {}  # name -> outputs for the mocks
        self.lock = threading.Lock()
        self.failures: list[CommandFailed] = []
        self.in_flight = 0
        self.idle = threading.Condition(self.lock)

    # --- state -------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            data = {}
        data.setdefault("commands", {})
        return data

    def _save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.state, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.state_path)

    # --- running -----------------------------------------------------------------------
    def _exec(self, name: str, conn: Connection, command: str, stdin: str | None, action: str, secret: bool) -> str:
        self.log(f"homelab hostrun: {action:<7} {name} on {conn.host} ...")
        t0 = time.monotonic()
        try:
            proc = run_remote(conn, command, stdin, self.timeout)
        except subprocess.TimeoutExpired:
            raise CommandFailed(f"{name}: timed out after {self.timeout:.0f} s on {conn.host}") from None
        finally:
            secs = time.monotonic() - t0
            with self.lock:
                self.executed.append(Executed(name, conn.host, action, secs, time.monotonic()))
        if proc.returncode != 0:
            if proc.returncode == 255 and not proc.stdout:
                detail = _tail(proc.stderr, 5)  # ssh's own error: unreachable, host key, auth
            elif secret:
                # Secret commands' scripts keep secrets off stderr; filter again, to be sure.
                detail = _tail(_without_secrets(proc.stderr)) or "(its output is secret; see the host's logs)"
            else:
                detail = _tail(proc.stderr or proc.stdout)
            raise CommandFailed(
                f"{name}: {action} exited {proc.returncode} on {conn.host} after {secs:.1f} s\n{detail}"
            )
        self.log(f"homelab hostrun: {action:<7} {name} on {conn.host}: done in {secs:.1f} s")
        return proc.stdout

    def apply(self, urn: str, name: str, inputs: Mapping[str, Any], ignore: list[str], deps: list[str]) -> None:
        with self.lock:
            self.in_flight += 1
        try:
            self._apply(urn, name, inputs, ignore, deps)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.idle.notify_all()

    def wait_idle(self) -> None:
        """As the engine does on a failure: let commands already running finish and be saved."""
        with self.lock:
            self.idle.wait_for(lambda: self.in_flight == 0, timeout=self.timeout)

    def _apply(self, urn: str, name: str, inputs: Mapping[str, Any], ignore: list[str], deps: list[str]) -> None:
        conn = Connection.from_inputs(inputs["connection"])
        secret = inputs.get("logging") == "none"
        new_digest = command_digest(inputs, ignore)
        triggers = digest(inputs.get("triggers") or [])
        with self.lock:
            self.seen.add(urn)
            old = self.state["commands"].get(urn)
        if old:  # as the engine: an ignored input keeps the value it was created with
            kept = old.get("ignored") or {}
            inputs = {**inputs, **{k: kept[k] for k in ignore if k in kept}}
        outputs: dict[str, Any]
        if old and not self.always and old["digest"] == new_digest and old["triggers"] == triggers:
            outputs = old["outputs"]
        else:
            action = "create"
            command = str(inputs.get("create") or "")
            if self.always and not command:
                command = str(inputs.get("update") or "")  # every script again: update-only ones too
            if old and old["triggers"] != triggers:
                if old.get("delete"):
                    self._exec(name, self._old_connection(old, conn), old["delete"], None, "replace", secret)
            elif old and not self.always:
                action = "update"
                command = str(inputs.get("update") or command)
            # As the provider: a command without `create` (only a delete, say) runs nothing now.
            stdout = self._exec(name, conn, command, inputs.get("stdin"), action, secret) if command else ""
            outputs = {"stdout": stdout, "stderr": ""}
        record = {
            "name": name,
            "connection": conn.public(),
            "delete": inputs.get("delete"),
            "digest": new_digest,
            "triggers": triggers,
            "outputs": outputs,
            "secret": secret,
            "deps": deps,
            # Command lines only (never stdin, which may hold secrets), for the rule above.
            "ignored": {k: inputs[k] for k in ignore if k in ("create", "update") and k in inputs},
        }
        with self.lock:
            self.state["commands"][urn] = record
            self.outputs[name] = outputs
            self._save()

    def _old_connection(self, old: Mapping[str, Any], current: Connection) -> Connection:
        c = old["connection"]
        if c["keyDigest"] != current.key_digest:
            raise CommandFailed(f"{old['name']}: its SSH key changed; the old one is needed to delete it")
        return Connection(c["host"], c["port"], c["user"], c["hostKey"], current.private_key)

    def delete_missing(self, keys: Mapping[str, str], only: set[str] | None = None) -> None:
        """Delete commands the program no longer registers (or `only` these), dependents first.

        `keys`: private keys by digest, from the connections of this run (the state keeps none).
        """
        commands: dict[str, Any] = self.state["commands"]
        gone = only if only is not None else {u for u in commands if u not in self.seen}
        for urn in delete_order(commands, gone):
            rec = commands[urn]
            if rec.get("delete"):
                c = rec["connection"]
                key = keys.get(c["keyDigest"])
                if key is None:
                    raise CommandFailed(f"{rec['name']}: no SSH key of this run matches the one it was made with")
                conn = Connection(c["host"], c["port"], c["user"], c["hostKey"], key)
                self._exec(rec["name"], conn, rec["delete"], None, "delete", rec.get("secret", False))
            del commands[urn]
            self._save()

    def hook(self, args: pmocks.MockResourceArgs) -> Mapping[str, Any] | None:
        if args.typ != COMMAND:
            return None
        return self.outputs.get(args.name)


def delete_order(commands: Mapping[str, Any], gone: set[str]) -> list[str]:
    """`gone` ordered so that a command is deleted before anything it depends on."""
    order: list[str] = []
    visited: set[str] = set()

    def visit(urn: str) -> None:
        if urn in visited:
            return
        visited.add(urn)
        # Dependents first: every gone command that depends on this one.
        for other in sorted(gone):
            if urn in commands[other].get("deps", []):
                visit(other)
        order.append(urn)

    for urn in sorted(gone):
        visit(urn)
    return order


class HostMonitor(RecordingMonitor):
    """The recording mock monitor, running each remote command before it answers.

    With `execute=False` it only learns the SSH keys of the program's connections.
    """

    def __init__(self, mocks: pmocks.Mocks, runner: HostRunner, *, execute: bool = True) -> None:
        super().__init__(mocks)
        self.runner = runner
        self.execute = execute
        self.keys: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        if request.type == COMMAND:
            raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
            inputs = _strip(raw)
            conn = Connection.from_inputs(inputs["connection"])
            self.keys[conn.key_digest] = conn.private_key
            if self.execute:
                urn = self.make_urn(request.parent, request.type, request.name)
                deps = sorted(
                    {*request.dependencies, *(u for v in request.propertyDependencies.values() for u in v.urns)}
                )
                try:
                    self.runner.apply(urn, request.name, inputs, list(request.ignoreChanges), deps)
                except CommandFailed as err:
                    self.runner.failures.append(err)
                    raise
        return super().RegisterResource(request)


@dataclasses.dataclass
class RunResult:
    outputs: dict[str, Any]
    executed: list[Executed]
    deleted: list[str]


def run_program(
    program: Callable[[], Any],
    config: Mapping[str, Any],
    secret_keys: list[str],
    state_path: Path,
    *,
    always: bool = False,
    destroy: bool = False,
    stack: str = "local",
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Run `program`'s commands on their hosts (config keys are `project:key`).

    Raises CommandFailed (after saving what succeeded) when a command fails.
    """
    runner = HostRunner(state_path, always=always, log=log)
    monitors: list[HostMonitor] = []

    def make_monitor(mocks: pmocks.Mocks) -> RecordingMonitor:
        mon = HostMonitor(mocks, runner, execute=not destroy)
        monitors.append(mon)
        return mon

    before = set(runner.state["commands"])
    try:
        result = run(
            program, config=config, secret_keys=secret_keys, stack=stack, hooks=[runner.hook], monitor=make_monitor
        )
    except Exception:
        runner.wait_idle()
        if runner.failures:
            raise runner.failures[0] from None
        raise
    if runner.failures:  # the SDK may log a failed registration rather than raise it
        raise runner.failures[0]
    runner.delete_missing(monitors[0].keys, only=before if destroy else None)
    deleted = sorted(before - set(runner.state["commands"]))
    return RunResult({} if destroy else result.outputs, runner.executed, deleted)


def run_stack(config: Mapping[str, Any], secret_keys: list[str], state_path: Path, **kwargs: Any) -> RunResult:
    """The project's own program (`__main__.py`) on a stack's config."""
    return run_program(_main, config, secret_keys, state_path, **kwargs)


def _main() -> Any:
    return runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def encrypted_keys(value: Any, path: str = "") -> list[str]:
    """Key paths holding a Pulumi-encrypted `{secure: ...}` value, at any depth."""
    if isinstance(value, Mapping):
        if set(value) == {"secure"}:
            return [path]
        return [p for k, v in value.items() for p in encrypted_keys(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in encrypted_keys(v, f"{path}[{i}]")]
    return []


def stack_file_config(stack: str) -> tuple[dict[str, Any], list[str]]:
    """`homelab:*` keys of config/Pulumi.<stack>.yaml (plain values only: no `secure:`)."""
    import yaml

    path = ROOT / "config" / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise SystemExit(f"homelab hostrun: no stack file {path.relative_to(ROOT)}")
    doc = yaml.safe_load(path.read_text()) or {}
    config = {k: v for k, v in (doc.get("config") or {}).items() if k.startswith("homelab:")}
    if secure := encrypted_keys(config):
        raise SystemExit(
            f"homelab hostrun: {', '.join(secure)}: encrypted values (`secure:`) cannot be read here; "
            "use privateKeyPath instead"
        )
    return config, []


def state_file(stack: str) -> Path:
    """Where hostrun keeps a stack's commands (0600: it holds the kubeconfig and tokens)."""
    return Path(os.environ.get("HOMELAB_HOSTRUN_DIR", "/var/lib/homelab/hostrun")) / f"{stack}.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.hostrun", description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["up", "destroy", "kubeconfig"])
    ap.add_argument("stack")
    ap.add_argument("--state", type=Path, help="state file (default: /var/lib/homelab/hostrun/<stack>.json)")
    ap.add_argument("--always", action="store_true", help="run every create again (idempotency check)")
    args = ap.parse_args(argv)
    state = args.state or state_file(args.stack)
    if args.action == "kubeconfig":
        # The admin kubeconfig the cluster's `kubeconfig` command read (secret: to stdout only).
        records = HostRunner(state, log=lambda _m: None).state["commands"].values()
        found = [r["outputs"]["stdout"] for r in records if r["name"].endswith("-kubeconfig")]
        if not found:
            print(f"homelab hostrun: no kubeconfig in {state}: run `up` first", file=sys.stderr)
            return 1
        sys.stdout.write(found[0])
        return 0
    config, secret = stack_file_config(args.stack)
    t0 = time.monotonic()
    try:
        result = run_stack(
            config, secret, state, always=args.always, destroy=args.action == "destroy", stack=args.stack
        )
    except CommandFailed as err:
        print(f"homelab hostrun: FAILED: {err}", file=sys.stderr)
        return 1
    for ex in result.executed:
        print(f"{ex.seconds:8.1f} s  {ex.action:<7} {ex.name} ({ex.host})")
    print(f"homelab hostrun: {args.action} of {args.stack}: {len(result.executed)} command(s) in "
          f"{time.monotonic() - t0:.1f} s; deleted {len(result.deleted)}; state {shlex.quote(str(state))}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
