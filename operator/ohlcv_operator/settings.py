"""The operator's configuration, from the environment its Helm chart sets.

Collector defaults (image, resources, env, scheduling) live here rather than in
each resource, so one `helm upgrade` changes every exchange that does not override
them. Credentials never pass through here: only the names of the Secrets that hold
them, which collector pods read directly.
"""

import socket
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ohlcv_collector.settings import DEFAULT_HEARTBEAT_TIMEOUT_SECONDS, DEFAULT_USER_MAIL
from ohlcv_operator.liveness import SILENCE_LIMIT_SECONDS


class DiscoveryMode(StrEnum):
    """Whether the operator creates a resource for each exchange that has targets."""

    CREATE = "create"
    OFF = "off"


class Scope(StrEnum):
    """Where the operator watches OhlcvCollectors (its chart's RBAC grants exactly that)."""

    NAMESPACE = "namespace"  # its own namespace
    NAMESPACES = "namespaces"  # its own and those of watch_namespaces
    CLUSTER = "cluster"  # every namespace


class OperatorSettings(BaseSettings):
    """Everything the operator reads from its environment."""

    # "null" is how the chart writes an unset value (collector.runAsUser: null).
    model_config = SettingsConfigDict(
        env_prefix="OHLCV_", extra="ignore", env_parse_none_str="null"
    )

    namespace: str = Field(
        default="default",
        validation_alias="OPERATOR_NAMESPACE",
        description="the namespace the operator watches and creates resources in",
    )
    scope: Scope = Scope.NAMESPACE
    watch_namespaces: list[str] = Field(
        default_factory=list, description="with scope namespaces: the namespaces watched too"
    )
    user_mail: str = Field(default=DEFAULT_USER_MAIL, validation_alias="ADMIN_MAIL")
    discovery_mode: DiscoveryMode = DiscoveryMode.CREATE
    discovery_interval_seconds: float = Field(default=60.0, gt=0)
    prune: bool = False
    resync_seconds: float = Field(default=30.0, gt=0, description="periodic reconcile interval")
    health_poll_seconds: float = Field(
        default=10.0,
        gt=0,
        description="how often the collectors' health is read from Redis; a resource is"
        " reconciled only when what its status judges changed",
    )
    liveness_seconds: float = Field(
        default=SILENCE_LIMIT_SECONDS,
        gt=0,
        description="/healthz fails after this long without an answer from the API server",
    )
    leader_lease_name: str = Field(
        default="ohlcv-operator",
        description="the coordination.k8s.io Lease whose holder is the one acting replica",
    )
    leader_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="a Lease not renewed for this long is taken over by a standby replica",
    )
    leader_retry_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often the leader renews the Lease and standbys read it",
    )
    status_refresh_seconds: float = Field(
        default=300.0,
        gt=0,
        description="how often a status is rewritten when only its lag figures moved (a"
        " changed verdict, count or condition is written at once)",
    )
    collector_image: str = "ghcr.io/fullon-ohlcv/fullon-ohlcv:0.1.0"
    collector_image_pull_policy: str = "IfNotPresent"
    collector_resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        }
    )
    collector_env: list[dict[str, Any]] = Field(default_factory=list)
    collector_node_selector: dict[str, str] = Field(default_factory=dict)
    collector_tolerations: list[dict[str, Any]] = Field(default_factory=list)
    collector_service_account: str | None = None
    collector_progress_deadline_seconds: int = Field(
        default=600,
        gt=0,
        description="seconds a collector rollout may make no progress before the Deployment"
        " reports ProgressDeadlineExceeded and the resource turns Stalled",
    )
    collector_pod: dict[str, Any] = Field(
        default_factory=dict,
        description="defaults of the collector Pods: the keys of spec.POD_FIELDS (the chart's"
        " collector.affinity, ...)",
    )
    collector_run_as_user: int | None = Field(
        default=10001,
        ge=1,
        description="UID and GID of the collector Pods; None leaves them to the platform"
        " (OpenShift's restricted-v2 assigns one from the namespace's range)",
    )
    collector_tmp_size_limit: str = Field(
        default="64Mi", min_length=1, description="size limit of the collectors' /tmp emptyDir"
    )
    database_secret: str = Field(default="fullon-db", description="Secret with DB_* keys")
    collector_connection: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="envFrom, env, volumes and volumeMounts that reach the database and Redis"
        " (the chart's, from its database and redis values); empty: the two Secrets whole",
    )
    redis_secret: str | None = Field(default=None, description="Secret with REDIS_* keys")
    operator_metrics_port: int = Field(default=8080, ge=0, le=65535)
    operator_metrics_host: str = Field(default="0.0.0.0")  # noqa: S104 - probed on the pod IP
    pod_name: str = Field(
        default_factory=socket.gethostname,
        validation_alias="POD_NAME",
        description="this operator's pod, named in the Events it records",
    )
    heartbeat_timeout_seconds: float = Field(
        default=DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
        gt=0,
        description="a collector record whose heartbeat is older is stale (the collectors'"
        " OHLCV_HEARTBEAT_TIMEOUT_SECONDS)",
    )
    stale_lag_seconds: int = Field(
        default=300, gt=0, description="a symbol whose data is older than this is unhealthy"
    )

    def watched(self) -> list[str] | None:
        """The namespaces watched, None for all; the operator's own is always one of them
        (its Lease and the resources discovery creates live there)."""
        if self.scope is Scope.CLUSTER:
            return None
        if self.scope is Scope.NAMESPACES:
            return sorted({self.namespace, *self.watch_namespaces})
        return [self.namespace]

    @model_validator(mode="after")
    def _renew_before_the_lease_ends(self) -> "OperatorSettings":
        """The leader must renew (and, failing that, stop) before a standby may take over."""
        if self.leader_retry_seconds >= self.leader_lease_seconds:
            raise ValueError(
                "leader_retry_seconds must be shorter than leader_lease_seconds, not"
                f" {self.leader_retry_seconds} >= {self.leader_lease_seconds}"
            )
        return self
