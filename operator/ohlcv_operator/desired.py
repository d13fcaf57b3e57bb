"""The collector Deployment an OhlcvCollector should have, as a pure function.

The result is the whole intent of the operator for that Deployment, applied with
server-side apply under one field manager: fields it does not mention stay with
whoever set them, and applying the same intent twice changes nothing. It carries a
digest of itself (drift.stamped), which tells a live Deployment applied with this very
intent from one that still has fields the operator has dropped since.
"""

from typing import Any

from ohlcv_operator.drift import stamped
from ohlcv_operator.settings import OperatorSettings
from ohlcv_operator.spec import (
    API_VERSION,
    EXCHANGE_LABEL,
    KIND,
    POD_FIELDS,
    CollectorSpec,
    deployment_name,
    selector_labels,
)

HTTP_PORT = 8080


def _connection(settings: OperatorSettings) -> dict[str, list[dict[str, Any]]]:
    """How collector Pods reach the database and Redis: the chart's recipe (the Secrets' keys,
    TLS certificates), which the operator's own Pod follows too, or else the two Secrets
    loaded whole. DB_REQUIRED: a Secret without the database settings stops the collector
    with that error rather than letting it collect into a SQLite file inside the Pod."""
    if settings.collector_connection:
        return settings.collector_connection
    env_from: list[dict[str, Any]] = [{"secretRef": {"name": settings.database_secret}}]
    if settings.redis_secret:
        env_from.append({"secretRef": {"name": settings.redis_secret, "optional": True}})
    return {"envFrom": env_from, "env": [{"name": "DB_REQUIRED", "value": "true"}]}


def _env(*, spec: CollectorSpec, settings: OperatorSettings) -> list[dict[str, Any]]:
    """Operator defaults first; the chart's extra env, then the resource's, override them."""
    merged: dict[str, dict[str, Any]] = {}
    defaults: list[dict[str, Any]] = [
        *_connection(settings).get("env", []),
        {"name": "ADMIN_MAIL", "value": settings.user_mail},
        {"name": "OHLCV_HTTP_PORT", "value": str(HTTP_PORT)},
        # The replica's name in the fleet's heartbeats: the pod's name.
        {"name": "OHLCV_INSTANCE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    for variable in [*defaults, *settings.collector_env, *spec.env]:
        merged[variable["name"]] = variable
    return list(merged.values())


def collector_args(spec: CollectorSpec) -> list[str]:
    """Arguments of `ohlcv-collector` for this resource."""
    args = ["run", "--exchange", spec.exchange]
    if spec.symbols:
        args += ["--symbols", ",".join(spec.symbols)]
    if not spec.candles:
        args.append("--no-candles")
    if not spec.trades:
        args.append("--no-trades")
    if spec.backfill_days is not None:
        args += ["--backfill-days", str(spec.backfill_days)]
    return args


def _pod_fields(*, spec: CollectorSpec, settings: OperatorSettings) -> dict[str, Any]:
    """The chart's Pod defaults with the resource's fields over them; annotations and labels
    merge key by key, so a platform-wide label survives one exchange adding its own."""
    defaults, own = settings.collector_pod, spec.pod or {}
    fields = {key: own.get(key, defaults.get(key)) for key in POD_FIELDS}
    for key in ("podAnnotations", "podLabels"):
        fields[key] = {**defaults.get(key, {}), **own.get(key, {})}
    return {key: value for key, value in fields.items() if value}


def _pod_security(run_as: int | None) -> dict[str, Any]:
    """Restricted Pod Security; with no UID the platform assigns one (OpenShift's
    restricted-v2 refuses a Pod that names a UID outside the namespace's range)."""
    ids = {} if run_as is None else {"runAsUser": run_as, "runAsGroup": run_as, "fsGroup": run_as}
    return {"runAsNonRoot": True, **ids, "seccompProfile": {"type": "RuntimeDefault"}}


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }


def desired_deployment(
    *, name: str, namespace: str, uid: str, spec: CollectorSpec, settings: OperatorSettings
) -> dict[str, Any]:
    """The Deployment manifest for resource `name` (uid `uid`) in `namespace`."""
    labels = {
        **selector_labels(name),
        "app.kubernetes.io/component": "collector",
        "app.kubernetes.io/managed-by": "ohlcv-operator",
        EXCHANGE_LABEL: spec.exchange,
    }
    connection = _connection(settings)
    container: dict[str, Any] = {
        "name": "collector",
        "image": spec.image or settings.collector_image,
        "imagePullPolicy": spec.image_pull_policy or settings.collector_image_pull_policy,
        "command": ["ohlcv-collector"],
        "args": collector_args(spec),
        "envFrom": connection.get("envFrom", []),
        "env": _env(spec=spec, settings=settings),
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "startupProbe": _probe("/healthz", period=5, failures=24),
        "livenessProbe": _probe("/healthz", period=20, failures=3),
        "readinessProbe": _probe("/readyz", period=10, failures=3),
        "resources": spec.resources or settings.collector_resources,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
            *connection.get("volumeMounts", []),
        ],
        # A collector that exits on bad settings leaves its last log lines in the Pod's
        # status, where the operator reads why it fails.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod = _pod_fields(spec=spec, settings=settings)
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 30,
        "securityContext": _pod_security(settings.collector_run_as_user),
        "containers": [container],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": settings.collector_tmp_size_limit}},
            *connection.get("volumes", []),
        ],
        "nodeSelector": spec.node_selector or settings.collector_node_selector,
        "tolerations": list(
            settings.collector_tolerations if spec.tolerations is None else spec.tolerations
        ),
    }
    if settings.collector_service_account:
        pod_spec["serviceAccountName"] = settings.collector_service_account
    for key in ("imagePullSecrets", "affinity", "topologySpreadConstraints", "priorityClassName"):
        if key in pod:
            pod_spec[key] = pod[key]
    template_metadata: dict[str, Any] = {"labels": {**pod.get("podLabels", {}), **labels}}
    if "podAnnotations" in pod:
        template_metadata["annotations"] = pod["podAnnotations"]
    manifest: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(name),
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": name,
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "replicas": 0 if spec.paused else spec.replicas,
            "progressDeadlineSeconds": settings.collector_progress_deadline_seconds,
            "selector": {"matchLabels": selector_labels(name)},
            "template": {"metadata": template_metadata, "spec": pod_spec},
        },
    }
    return stamped(manifest)
