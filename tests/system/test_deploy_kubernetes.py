"""The Kubernetes manifests in ``deploy/`` are valid and agree with the code and with each other.

No cluster runs here. kubernetes-validate checks every built-in object against the OpenAPI schema
of Kubernetes ``KUBERNETES_VERSION`` (strict: an unknown field fails); the KEDA ScaledObject, a
custom resource it has no schema for, is checked against a hand-written subset of KEDA's schema
(``tests/keda_scaledobject.schema.json``). What no schema says is checked by reading the files:
setting names, the Secret's keys, labels and selectors, ports, images, the drain's grace period,
the queue KEDA watches.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from api.routes.health import router as health_router
from featviz.settings import Settings
from featviz_cli.local_stack import settings_from
from tests.helpers.paths import REPO_ROOT
from tests.system.test_deployment import SERVICES, SETTINGS_VARIABLES, dockerfile, instruction

KUBERNETES_VERSION = "1.31"
"""The oldest Kubernetes the manifests are written for; kubernetes-validate has its schema."""
NEWEST_KNOWN_VERSION = ".".join(kubernetes_validate.latest_version().split(".")[:2])
"""The newest Kubernetes this kubernetes-validate knows: nothing the manifests use is gone."""

DEPLOY = REPO_ROOT / "deploy"
KUSTOMIZATION = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
NAMESPACE: str = KUSTOMIZATION["namespace"]
SECRET_EXAMPLE = "secret.example.yaml"
KEDA_SCHEMA = json.loads(
    (REPO_ROOT / "tests" / "helpers" / "keda_scaledobject.schema.json").read_text()
)
PROJECT_VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]

DRAIN_GRACE = "FEATVIZ_DRAIN_GRACE_S"
HAND_BACK_S = 30
"""After the drain: the hand-back's Redis writes, or an upload retrying within its backoff."""
EXIT_S = 15
"""After the hand-back: the process exits before Kubernetes kills it."""
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti|kb|mb|gb)?$")
UNITS = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    # redis-server's memory units, given here in lower case, are powers of 1024.
    "kb": 2**10,
    "mb": 2**20,
    "gb": 2**30,
}


def load(name: str) -> list[dict[str, Any]]:
    """The objects of one manifest file, in the namespace kustomize puts them in."""
    objects = [item for item in yaml.safe_load_all((DEPLOY / name).read_text()) if item]
    for item in objects:
        if item["kind"] != "Namespace":
            item["metadata"]["namespace"] = NAMESPACE
    return objects


APPLIED = {name: load(name) for name in KUSTOMIZATION["resources"]}
OBJECTS = [item for objects in APPLIED.values() for item in objects]
SECRET: dict[str, Any] = load(SECRET_EXAMPLE)[0]


def the(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in OBJECTS if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


API = the("Deployment", "api")
WORKER = the("Deployment", "worker")
REDIS = the("StatefulSet", "redis")
REDIS_SERVICE = the("Service", "redis")
CONFIG: dict[str, str] = the("ConfigMap", "featviz-config")["data"]
SCALER = the("ScaledObject", "worker")
WORKLOADS = [o for o in OBJECTS if o["kind"] in ("Deployment", "StatefulSet")]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def environment(workload: dict[str, Any]) -> dict[str, str]:
    """The FEATVIZ_* variables a workload's container sees (the example's secret values)."""
    variables: dict[str, str] = {}
    for source in container(workload).get("envFrom", []):
        if "configMapRef" in source:
            assert source["configMapRef"]["name"] == "featviz-config"
            variables |= CONFIG
        else:
            assert source["secretRef"]["name"] == SECRET["metadata"]["name"]
            variables |= SECRET["stringData"]
    variables |= {item["name"]: item["value"] for item in container(workload).get("env", [])}
    return variables


def settings_of(variables: dict[str, str]) -> Settings:
    """What the settings make of these variables; empty ones are unset (``env_ignore_empty``)."""
    return settings_from({name: value for name, value in variables.items() if value})


VALID_SECRETS = {
    "FEATVIZ_SIGNING_SECRET": "a-random-signing-secret",
    "FEATVIZ_API_KEY_HASHES": "ab" * 32,
}


def quantity(value: str | int) -> float:
    match = QUANTITY.match(str(value))
    assert match, f"not a quantity: {value!r}"
    number, unit = match.groups()
    return float(number) * UNITS[unit]


def option(arguments: list[str], flag: str) -> str:
    return arguments[arguments.index(flag) + 1]


def test_kustomization_applies_every_manifest_but_the_secret_example() -> None:
    on_disk = {path.name for path in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk == set(APPLIED) | {SECRET_EXAMPLE}
    assert all(APPLIED.values()), "a manifest holds no object"


def test_the_namespace_is_the_kustomization_namespace() -> None:
    (namespace,) = APPLIED["namespace.yaml"]
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


BUILT_IN = [o for o in [*OBJECTS, SECRET] if o["apiVersion"] != SCALER["apiVersion"]]


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, NEWEST_KNOWN_VERSION])
@pytest.mark.parametrize(
    "manifest", BUILT_IN, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in BUILT_IN]
)
def test_each_object_is_valid_for_the_stated_kubernetes(
    manifest: dict[str, Any], version: str
) -> None:
    assert kubernetes_validate.validate(manifest, version, strict=True) == version


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["spec", "template", "spec", "terminationGracePeriodSecond"], 105),  # misspelt
        (["spec", "replicas"], "two"),  # wrong type
        (["spec", "selector"], None),  # required, missing
    ],
)
def test_the_validator_refuses_a_broken_object(path: list[str | int], value: object) -> None:
    broken = copy.deepcopy(WORKER)
    parent: Any = broken
    for step in path[:-1]:
        parent = parent[step]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_names_are_dns_labels() -> None:
    # The API server's rule for object names and Service names; the schemas say only "string".
    for manifest in [*OBJECTS, SECRET]:
        assert DNS_LABEL.match(manifest["metadata"]["name"]), manifest["metadata"]


def test_scaled_object_matches_kedas_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(KEDA_SCHEMA)
    jsonschema.Draft202012Validator(KEDA_SCHEMA).validate(SCALER)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):  # why the subset exists
        kubernetes_validate.validate(SCALER, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("listname", "featviz"),  # misspelt
        ("listLength", "one"),
        ("address", "redis://redis:6379"),  # KEDA wants host:port
        ("enableTLS", True),  # metadata values are strings
    ],
)
def test_kedas_schema_refuses_a_broken_trigger(field: str, value: object) -> None:
    broken = copy.deepcopy(SCALER)
    broken["spec"]["triggers"][0]["metadata"][field] = value
    assert not jsonschema.Draft202012Validator(KEDA_SCHEMA).is_valid(broken)


def test_the_autoscaler_keda_makes_is_valid() -> None:
    # KEDA turns the ScaledObject into this HorizontalPodAutoscaler, so Kubernetes' own schema
    # checks the scaling behaviour and the bounds.
    spec = SCALER["spec"]
    (trigger,) = spec["triggers"]
    autoscaler = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": f"keda-hpa-{SCALER['metadata']['name']}", "namespace": NAMESPACE},
        "spec": {
            "scaleTargetRef": spec["scaleTargetRef"],
            "minReplicas": spec["minReplicaCount"],
            "maxReplicas": spec["maxReplicaCount"],
            "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"],
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "s0-redis-" + trigger["metadata"]["listName"]},
                        "target": {
                            "type": "AverageValue",
                            "averageValue": trigger["metadata"]["listLength"],
                        },
                    },
                }
            ],
        },
    }
    kubernetes_validate.validate(autoscaler, KUBERNETES_VERSION, strict=True)
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]


def test_selectors_select_their_pods() -> None:
    for workload in WORKLOADS:
        selector = workload["spec"]["selector"]["matchLabels"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), workload["metadata"]["name"]
    for service in (o for o in OBJECTS if o["kind"] == "Service"):
        selected = [
            w
            for w in WORKLOADS
            if service["spec"]["selector"].items()
            <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        ports = {p["name"]: p["containerPort"] for p in container(selected[0])["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (service["metadata"]["name"], port)
    assert REDIS["spec"]["serviceName"] == REDIS_SERVICE["metadata"]["name"]
    assert REDIS_SERVICE["spec"]["clusterIP"] == "None"  # a StatefulSet's governing Service
    assert SCALER["spec"]["scaleTargetRef"] == {
        "apiVersion": WORKER["apiVersion"],
        "kind": WORKER["kind"],
        "name": WORKER["metadata"]["name"],
    }


def test_every_environment_variable_is_a_setting() -> None:
    for workload in (API, WORKER):
        names = set(environment(workload))
        assert names <= SETTINGS_VARIABLES, names - SETTINGS_VARIABLES
        assert "FEATVIZ_DEV_MODE" not in names  # production refuses default secrets
    assert DRAIN_GRACE not in environment(API)  # the API has no job to drain


def test_the_secret_holds_the_s3_settings_and_the_keys() -> None:
    s3 = {name for name in SETTINGS_VARIABLES if name.startswith("FEATVIZ_S3_")}
    assert set(SECRET["stringData"]) == s3 | set(VALID_SECRETS)
    assert not set(SECRET["stringData"]) & set(CONFIG)
    # Kubernetes sets what docker-compose.yml sets, no more and no less.
    assert set(CONFIG) | set(SECRET["stringData"]) == set(SERVICES["api"]["environment"])


def test_the_configuration_makes_valid_settings() -> None:
    for workload in (API, WORKER):
        settings = settings_of(environment(workload) | VALID_SECRETS)
        assert settings.is_s3
        assert settings.queue == CONFIG["FEATVIZ_QUEUE"]


@pytest.mark.parametrize("name", sorted(VALID_SECRETS))
def test_the_secret_examples_placeholders_are_refused(name: str) -> None:
    placeholder = {name: SECRET["stringData"][name]}
    with pytest.raises(ValidationError, match=f"(?i){name.removeprefix('FEATVIZ_')}"):
        settings_of(environment(WORKER) | VALID_SECRETS | placeholder)


def test_the_docs_create_the_secret_with_its_keys() -> None:
    docs = (REPO_ROOT / "docs/deploy.md").read_text()
    assert f"create secret generic {SECRET['metadata']['name']}" in docs
    created = set(re.findall(r"--from-literal=(FEATVIZ_\w+)=", docs))
    assert created == set(SECRET["stringData"])


def test_kedas_list_is_the_workers_queue_on_the_services_redis() -> None:
    metadata = SCALER["spec"]["triggers"][0]["metadata"]
    worker_command = instruction(dockerfile("Dockerfile.worker"), "CMD")
    assert metadata["listName"] == CONFIG["FEATVIZ_QUEUE"] == option(worker_command, "-Q")
    redis_url = urlsplit(CONFIG["FEATVIZ_REDIS_URL"])
    (port,) = REDIS_SERVICE["spec"]["ports"]
    assert redis_url.hostname == REDIS_SERVICE["metadata"]["name"]
    assert redis_url.port == port["port"] == container(REDIS)["ports"][0]["containerPort"]
    assert metadata["databaseIndex"] == redis_url.path.strip("/")
    # KEDA's operator resolves the name from its own namespace.
    service_host = f"{redis_url.hostname}.{NAMESPACE}.svc.cluster.local"
    assert metadata["address"] == f"{service_host}:{port['port']}"


def test_the_drain_grace_sets_the_workers_grace_period() -> None:
    drain = environment(WORKER)[DRAIN_GRACE]
    assert drain.isdigit(), "the preStop hook's shell arithmetic needs whole seconds"
    pod = WORKER["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == int(drain) + HAND_BACK_S + EXIT_S
    hook = " ".join(container(WORKER)["lifecycle"]["preStop"]["exec"]["command"])
    assert hook.startswith("sh -c kill -TERM 1;")  # the drain starts at once
    assert f"$(({DRAIN_GRACE} + {HAND_BACK_S}))" in hook


def run_the_hook_on(process: subprocess.Popen[bytes], drain_s: int) -> float:
    """Run the worker's preStop hook against ``process`` instead of the container's PID 1."""
    script = container(WORKER)["lifecycle"]["preStop"]["exec"]["command"][-1]
    aimed = re.sub(r"kill (-\w+) 1\b", rf"kill \1 {process.pid}", script)
    assert not re.search(r"kill -\w+ 1\b", aimed), "the hook would signal this machine's init"
    started = time.monotonic()
    subprocess.run(
        ["sh", "-c", aimed], env=os.environ | {DRAIN_GRACE: str(drain_s)}, check=True, timeout=30
    )
    return time.monotonic() - started


IGNORES_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(60)
"""


def test_the_prestop_hook_signals_the_worker_and_waits_at_most_the_drain() -> None:
    ends_on_term = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    # Reaped at once, as a container's PID 1 is gone once it exits (no zombie for kill -0).
    reaper = threading.Thread(target=ends_on_term.wait)
    reaper.start()
    # A worker that drains in no time: the hook returns as soon as it has exited.
    assert run_the_hook_on(ends_on_term, 0) < 3
    reaper.join(timeout=5)
    assert ends_on_term.returncode == -signal.SIGTERM
    ignores_term = subprocess.Popen(
        [sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE, text=True
    )
    try:
        assert ignores_term.stdout
        assert ignores_term.stdout.readline() == "ignoring SIGTERM\n"
        # A drain of -28 s bounds the wait at 2 s; then the hook leaves the kill to Kubernetes.
        waited = run_the_hook_on(ignores_term, 2 - HAND_BACK_S)
        assert 1.5 < waited < 5
        assert ignores_term.poll() is None
    finally:
        ignores_term.kill()
        ignores_term.wait()


def test_workers_take_one_gpu_each_and_run_the_images_command() -> None:
    resources = container(WORKER)["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == 1
    command = instruction(dockerfile("Dockerfile.worker"), "CMD")
    assert {"--pool=solo", "--concurrency=1", "--prefetch-multiplier=1"} <= set(command)
    for workload in (API, WORKER):
        assert not {"command", "args"} & set(container(workload))  # the image's CMD runs
    # A surge pod would wait for a GPU that is not free.
    assert WORKER["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    assert SCALER["spec"]["minReplicaCount"] == 1  # the reaper needs a worker (docs/deploy.md)
    # KEDA owns the count: a `replicas` here would reset it to that on every apply.
    assert "replicas" not in WORKER["spec"]


@pytest.mark.parametrize(("workload", "name"), [(API, "api"), (WORKER, "worker")])
def test_images_are_built_from_the_dockerfiles(workload: dict[str, Any], name: str) -> None:
    assert container(workload)["image"] == f"featviz-{name}:{PROJECT_VERSION}"
    assert (REPO_ROOT / f"Dockerfile.{name}").exists()


def test_redis_runs_as_compose_runs_it_with_a_cap_under_its_limit() -> None:
    redis = container(REDIS)
    assert redis["image"] == SERVICES["redis"]["image"]
    compose_command = SERVICES["redis"]["command"]
    assert redis["command"][: len(compose_command)] == compose_command
    cap = quantity(option(redis["command"], "--maxmemory").lower())
    # An AOF rewrite forks; its copy-on-write pages need room beside the data.
    assert cap <= 0.75 * quantity(redis["resources"]["limits"]["memory"])
    (claim,) = REDIS["spec"]["volumeClaimTemplates"]
    (mount,) = redis["volumeMounts"]
    assert mount["name"] == claim["metadata"]["name"]
    assert mount["mountPath"] == option(redis["command"], "--dir")


def test_api_port_and_probes_are_the_apis() -> None:
    api = container(API)
    command = instruction(dockerfile("Dockerfile.api"), "CMD")
    (port,) = api["ports"]
    assert port["containerPort"] == int(option(command, "--port"))
    routes = {getattr(route, "path", None) for route in health_router.routes}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert {"/readyz", "/healthz"} <= routes


@pytest.mark.parametrize(("workload", "name"), [(API, "api"), (WORKER, "worker")])
def test_pods_run_as_the_images_user(workload: dict[str, Any], name: str) -> None:
    uid = re.search(r"useradd [^\n]*--uid (\d+)", dockerfile(f"Dockerfile.{name}"))
    assert uid
    pod = workload["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == int(uid.group(1))


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w["metadata"]["name"] for w in WORKLOADS])
def test_every_container_is_locked_down_and_sized(workload: dict[str, Any]) -> None:
    spec = container(workload)
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    pod = workload["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True  # with the three above: the restricted Pod Security level
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"cpu", "memory"} <= set(spec["resources"]["requests"])
    requests, limits = spec["resources"]["requests"], spec["resources"]["limits"]
    assert quantity(requests["memory"]) <= quantity(limits["memory"])


@pytest.mark.parametrize(("workload", "name"), [(API, "api"), (WORKER, "worker")])
def test_scratch_space_holds_the_largest_model_upload(workload: dict[str, Any], name: str) -> None:
    # The API spools an upload to /tmp on its way to storage; a worker downloads it there.
    settings = settings_of(environment(workload) | VALID_SECRETS)
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    (tmp,) = [m for m in container(workload)["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert quantity(volumes[tmp["name"]]["emptyDir"]["sizeLimit"]) >= (
        settings.max_model_upload_bytes
    ), name
    assert container(workload)["securityContext"]["readOnlyRootFilesystem"] is True


def test_worker_memory_holds_its_model_cache() -> None:
    settings = settings_of(environment(WORKER) | VALID_SECRETS)
    # A CPU worker's own resident memory is about 0.9 GiB (docs/reliability.md); models come on top.
    limit = quantity(container(WORKER)["resources"]["limits"]["memory"])
    assert limit >= settings.model_cache_bytes + 2**30
