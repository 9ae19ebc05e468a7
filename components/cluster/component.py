"""KubeadmCluster: hosts prepared over SSH, `kubeadm init` once, joins, kubeconfig, provider."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_command import remote

from components.cluster import host_scripts as scripts
from components.cluster.apiserver_config import config_files
from components.cluster.backup import EtcdBackup
from components.cluster.day_two import add_cert_expiry, add_etcd_backups, add_preflight, add_version_guard
from components.cluster.kubeadm_config import render_init, render_join
from components.cluster.model import ClusterSpec, NodeSpec
from components.cluster.upgrade_chain import add_rollout, add_upgrade_apply
from components.kube import inherited_depends_on

# stdout of these commands carries a secret: never log it, never show it in diffs.
_SECRET_STDOUT = ["stdout", "stderr"]


def _connection(node: NodeSpec) -> remote.ConnectionArgs:
    return remote.ConnectionArgs(
        host=node.address,
        port=node.ssh.port,
        user=node.ssh.user,
        private_key=pulumi.Output.secret(node.ssh.private_key),
        host_key=node.ssh.host_key,
        # Fail in about a minute on an unreachable host rather than the default 2.5.
        dial_error_limit=4,
        per_dial_timeout=15,
    )


def ca_from_kubeconfig(kubeconfig: str) -> str:
    """The cluster CA certificate (PEM) out of an admin kubeconfig."""
    doc = yaml.safe_load(kubeconfig) or {}
    data = doc["clusters"][0]["cluster"]["certificate-authority-data"]
    return base64.b64decode(data).decode()


class KubeadmCluster(pulumi.ComponentResource):
    """A kubeadm cluster on machines reached over SSH.

    Resources per node (names prefixed with the component's), so adding a node
    touches only that node:
      <node>-preflight     the read-only probe of `scripts/lab check`, run once per new host
      <node>-prepare       host preparation (opt out with NodeSpec.prepare=False)
      <node>-join-token    fresh token (+ certificate key) made on the first control plane
      <node>-join          `kubeadm join`; deleting it runs `kubeadm reset` on the node
      <node>-membership    on the first control plane; deleting it drains and deletes the Node
      <cp>-etcd-backup     per control plane, with `backup`: the etcd snapshot timer
      <cp>-cert-expiry     per control plane: `kubeadm certs check-expiration`, read daily
      <node>-drain, -kubelet, -uncordon, and <cp>-upgrade-node: the upgrade steps
    and once: running-version, <first>-init, <first>-upgrade-apply, cluster-config,
    kubeconfig, and the Kubernetes provider.
    """

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        spec: ClusterSpec,
        opts: pulumi.ResourceOptions | None = None,
        *,
        backup: EtcdBackup | None = None,
    ) -> None:
        super().__init__("homelab:cluster:KubeadmCluster", name, None, opts)
        self.spec = spec
        # What the caller made this cluster wait for holds back every command too.
        self._after = inherited_depends_on(opts)
        first = spec.first_control_plane
        init_config = render_init(spec)
        extra_files = config_files(spec)

        # A host new to the stack is probed first; a fatal finding stops `up` before its
        # prepare (components/cluster/day_two.py, the rules of `scripts/lab check`).
        preflights, preflight_ok = add_preflight(self._command, name, spec)
        # And a change of kubernetesVersion kubeadm cannot make (a skipped minor, a downgrade)
        # is refused before any host changes; an allowed one runs the upgrade steps below.
        running_version = add_version_guard(self._command, name, spec)
        prepared: dict[str, list[pulumi.Resource]] = {}
        for node in spec.nodes:
            deps: list[pulumi.Resource] = [preflights[node.name], running_version]
            if node.prepare:
                prepare = preflight_ok[node.name].apply(lambda _, s=spec: scripts.prepare_body(s))
                deps.append(
                    self._command(
                        f"{name}-{node.name}-prepare",
                        node,
                        prepare,
                        depends_on=[running_version],
                        pinned_env=scripts.prepare_release_env(spec),
                    )
                )
            prepared[node.name] = deps

        init = self._command(
            f"{name}-{first.name}-init",
            first,
            scripts.init_script(spec, init_config, extra_files),
            delete=scripts.reset_script(first),
            depends_on=prepared[first.name],
            secret_stdout=True,  # belt and braces: the script already keeps kubeadm's output on the host
            # Init runs once. Later changes to the cluster configuration flow through
            # cluster-config, so a new control plane's SAN does not touch this resource.
            ignore_changes=["stdin"],
        )
        # On a version change, kubeadm upgrades the control plane before the configuration
        # (which names the version) is uploaded again; a new cluster finds nothing to do.
        upgrade_apply = add_upgrade_apply(self._command, name, spec, [init, *prepared[first.name]])
        cluster_config = self._command(
            f"{name}-cluster-config",
            first,
            scripts.cluster_config_script(spec, init_config, extra_files),
            depends_on=[init, upgrade_apply],
        )
        kubeconfig_cmd = self._command(
            f"{name}-kubeconfig", first, scripts.kubeconfig_script(), depends_on=[init], secret_stdout=True
        )
        self.kubeconfig = pulumi.Output.secret(kubeconfig_cmd.stdout)

        joins: dict[str, remote.Command] = {}
        previous_cp: remote.Command | None = None
        for node in spec.nodes:
            if node is first:
                continue
            token = self._command(
                f"{name}-{node.name}-join-token",
                first,
                scripts.join_info_script(node),
                depends_on=[cluster_config],
                secret_stdout=True,
            )
            join_stdin = token.stdout.apply(lambda out, n=node: self._join_script(n, out, extra_files))
            # kubeadm joins control planes one at a time (etcd member add).
            after = [token, *prepared[node.name]]
            if node.is_control_plane and previous_cp is not None:
                after.append(previous_cp)
            join = self._command(
                f"{name}-{node.name}-join",
                node,
                pulumi.Output.secret(join_stdin),
                delete=scripts.reset_script(node),
                depends_on=after,
                secret_stdout=False,
            )
            joins[node.name] = join
            if node.is_control_plane:
                previous_cp = join
            self._command(
                f"{name}-{node.name}-membership",
                first,
                None,  # nothing to run at create: no SSH session on the first control plane
                delete=scripts.drain_script(node),
                depends_on=[join],
            )

        # Day two: per control plane, after its init or join (components/cluster/day_two.py).
        members: dict[str, pulumi.Resource] = {first.name: init, **joins}
        # Then the other control planes and every node, one at a time (upgrade_chain.py).
        self.upgrade_done = add_rollout(self._command, name, spec, upgrade_apply, members)
        if backup is not None:
            add_etcd_backups(self._command, name, spec, backup, members)
        self.certificate_expiry = add_cert_expiry(self._command, name, spec, members)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # A stable identity: a rewritten kubeconfig must not replace every resource.
            cluster_identifier=spec.name,
            enable_config_map_mutable=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_config, *joins.values()]),
        )
        self.api_endpoint = pulumi.Output.from_input(f"https://{spec.endpoint_address}")
        self.ca_certificate = pulumi.Output.unsecret(self.kubeconfig.apply(_ca_or_empty))
        self.nodes = [{"name": n.name, "address": n.address, "role": n.role} for n in spec.nodes]
        # The version every node runs once the rollout's last step is done; a failed or
        # interrupted rollout leaves the stack's previous value (lab.running_version).
        self.kubernetes_version: pulumi.Output[str] = pulumi.Output.from_input(self.upgrade_done.id).apply(
            lambda _: spec.kubernetes_version
        )
        # Known once each node has joined, unknown in the preview of a new node: what readers
        # of Node objects wait on (FlatNetwork's node_ready). Not the id: the command
        # provider makes one up in a preview too; the output exists only once it has run.
        self.joined: dict[str, pulumi.Output[str]] = {
            n: pulumi.Output.unsecret(c.stdout).apply(lambda _, n=n: n) for n, c in {first.name: init, **joins}.items()
        }
        self.register_outputs(
            {
                "kubeconfig": self.kubeconfig,
                "apiEndpoint": self.api_endpoint,
                "caCertificate": self.ca_certificate,
                "nodes": self.nodes,
                "certificateExpiry": self.certificate_expiry,
                "kubernetesVersion": self.kubernetes_version,
            }
        )

    def _join_script(self, node: NodeSpec, join_info: str, extra_files: Mapping[str, str]) -> str:
        info = json.loads(join_info)
        config = render_join(
            self.spec,
            node,
            token=info["token"],
            ca_cert_hash=info["caCertHash"],
            certificate_key=info.get("certificateKey") or None,
        )
        files = dict(extra_files) if node.is_control_plane else {}
        return scripts.join_script(self.spec, node, config, files)

    def _command(
        self,
        resource_name: str,
        node: NodeSpec,
        script: pulumi.Input[str] | None,
        *,
        delete: str | None = None,
        depends_on: list[pulumi.Resource] | None = None,
        secret_stdout: bool = False,
        ignore_changes: list[str] | None = None,
        update_only: bool = False,
        pinned_env: Mapping[str, str] | None = None,
    ) -> remote.Command:
        """One remote command; `pinned_env` is set for the script when the command is created
        and then ignored (its command line is), so changing it alone shows no diff."""
        args: dict[str, Any] = {
            "connection": _connection(node),
            # Replace when the command moves to another machine.
            "triggers": [node.address],
        }
        if script is not None and update_only:
            # Runs only when its text changes (an upgrade step): nothing at create, so a new
            # node or a new cluster opens no SSH session for it.
            args |= {"update": scripts.SUDO_BASH, "stdin": script}
        elif script is not None and pinned_env is not None:
            args |= {"create": scripts.sudo_bash_env(pinned_env), "stdin": script}
            ignore_changes = [*(ignore_changes or []), "create"]
        elif script is not None:  # None: a command that only acts on delete, never connects before
            args |= {"create": scripts.SUDO_BASH, "stdin": script}
        if delete is not None:
            # The provider feeds `stdin` (the create script) to delete too, so the
            # delete script travels on the command line instead; it holds no secret.
            args["delete"] = scripts.sudo_bash_c(delete)
        if secret_stdout:
            args["logging"] = remote.Logging.NONE
        if node.ssh.key_from_state:
            # A preview without the key file: compare against the stored key, not the placeholder.
            ignore_changes = [*(ignore_changes or []), "connection.privateKey"]
        return remote.Command(
            resource_name,
            **args,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*self._after, *(depends_on or [])],
                additional_secret_outputs=_SECRET_STDOUT if secret_stdout else None,
                ignore_changes=ignore_changes,
            ),
        )


def _ca_or_empty(kubeconfig: str | None) -> str:
    if not kubeconfig:
        return ""
    try:
        return ca_from_kubeconfig(kubeconfig)
    except (KeyError, IndexError, TypeError, ValueError, yaml.YAMLError):
        return ""
