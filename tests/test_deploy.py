"""deploy/ without a cluster: the Kubernetes objects against the API server's OpenAPI schemas
(kubernetes-validate, strict: unknown fields fail), the InferenceService against kserve's model classes, and
every path, port and CALLINKIT_* variable in them and in the Dockerfile against what `callinkit serve` serves."""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_server_support import free_port, wait_until_serving, without_callinkit_env

from callinkit.serve.http import ServerSettings, create_app
from callinkit.serve.http.settings import ENV_PREFIX

kubernetes_validate = pytest.importorskip("kubernetes_validate")

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
K8S_VERSION = kubernetes_validate.utils.latest_version()


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in docs}


def app_paths() -> set[str]:
    with without_callinkit_env():
        app = create_app(ServerSettings())
    # Included routers are not flattened into app.routes here; the OpenAPI paths list their routes.
    return set(app.openapi()["paths"]) | {route.path for route in app.routes if getattr(route, "path", None)}


def served_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ServerSettings:
    """The ServerSettings `callinkit serve` builds from these variables (unknown CALLINKIT_* names fail)."""
    fields = {ENV_PREFIX + name.upper() for name in ServerSettings.model_fields}
    ours = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    assert set(ours) <= fields, f"not server settings: {sorted(set(ours) - fields)}"
    with without_callinkit_env():
        for key, value in ours.items():
            monkeypatch.setenv(key, value)
        return ServerSettings()


def check_container(container: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> ServerSettings:
    """The container's settings; its probes, ports and resources checked against them and the app."""
    settings = served_settings({e["name"]: e["value"] for e in container.get("env", [])}, monkeypatch)
    assert settings.host == "0.0.0.0", "the server's default host (127.0.0.1) is unreachable from outside the pod"
    named = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert list(named.values()) == [settings.port]
    paths = app_paths()
    probes = {kind: container[kind]["httpGet"] for kind in ("readinessProbe", "livenessProbe", "startupProbe")
              if kind in container}
    assert probes["readinessProbe"]["path"] in {"/readyz", "/v2/health/ready"}
    assert probes["livenessProbe"]["path"] in {"/healthz", "/v2/health/live"}
    for probe in probes.values():
        assert probe["path"] in paths
        assert named.get(probe["port"], probe["port"]) == settings.port
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    if settings.threads is not None:
        assert settings.threads <= float(resources["limits"]["cpu"])
    return settings


# --- Deployment, Service, HorizontalPodAutoscaler -------------------------------------------------------------

def test_kubernetes_objects_match_their_openapi_schemas():
    docs = documents("kubernetes.yaml")
    assert sorted(doc["kind"] for doc in docs) == ["Deployment", "HorizontalPodAutoscaler", "Service"]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("path, value", [
    (("spec", "template", "spec", "containers", 0, "readinessProbe", "httpGet", "paht"), "/readyz"),  # typo
    (("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "8000"),  # string port
    (("spec", "replicas"), "two"),
])
def test_schema_validation_catches_mistakes(path, value):
    deployment = copy.deepcopy(by_kind(documents("kubernetes.yaml"))["Deployment"])
    target = deployment
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_kubernetes_objects_agree_with_the_server_and_each_other(monkeypatch):
    objects = by_kind(documents("kubernetes.yaml"))
    deployment, service, hpa = objects["Deployment"], objects["Service"], objects["HorizontalPodAutoscaler"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    settings = check_container(container, monkeypatch)
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {p["name"] for p in container["ports"]}
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == settings.port
    assert annotations["prometheus.io/path"] == "/metrics" and "/metrics" in app_paths()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


# --- KServe InferenceService ----------------------------------------------------------------------------------

def kserve_object(value: Any, type_name: str, where: str) -> Any:
    """`value` built as kserve's model class `type_name` (setters check required fields and enums), failing on
    any key the class does not have. Kubernetes types inside (pods' containers, metadata) are validated
    strictly against the Kubernetes schemas instead."""
    import kserve.models
    import kubernetes.client.models

    inner = re.fullmatch(r"(?:list|List)\[(.+)\]", type_name)
    if inner:
        assert isinstance(value, list), f"{where}: expected a list"
        return [kserve_object(v, inner.group(1), f"{where}[{i}]") for i, v in enumerate(value)]
    inner = re.fullmatch(r"(?:dict|Dict)\(?\[?str, (.+?)\)?\]?", type_name)
    if inner:
        assert isinstance(value, dict), f"{where}: expected a mapping"
        return {k: kserve_object(v, inner.group(1), f"{where}.{k}") for k, v in value.items()}
    scalars = {"str": str, "int": int, "float": (int, float), "bool": bool, "object": object}
    if type_name in scalars:
        assert isinstance(value, scalars[type_name]) and not (type_name == "int" and isinstance(value, bool)), \
            f"{where}: expected {type_name}, got {value!r}"
        return value
    klass = getattr(kserve.models, type_name, None)
    if klass is None:  # a Kubernetes type: strict schema check, then the client's own model
        kubernetes_object(value, type_name, where)
        return getattr(kubernetes.client.models, type_name).from_dict(value)
    assert isinstance(value, dict), f"{where}: expected a {type_name} mapping"
    fields = {json_key: attr for attr, json_key in klass.attribute_map.items()}
    unknown = sorted(set(value) - set(fields))
    assert not unknown, f"{where}: {unknown} not fields of {type_name}"
    return klass(**{fields[k]: kserve_object(v, klass.openapi_types[fields[k]], f"{where}.{k}")
                    for k, v in value.items()})


def kubernetes_object(value: Any, type_name: str, where: str) -> None:
    """Validate a Kubernetes type nested in a custom resource, by embedding it in an object that has it."""
    wrappers = {
        "V1Container": lambda v: {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                                  "spec": {"containers": [v]}},
        "V1ObjectMeta": lambda v: {"apiVersion": "v1", "kind": "ConfigMap", "metadata": v},
    }
    assert type_name in wrappers, f"{where}: no strict check for {type_name}; add one"
    try:
        kubernetes_validate.validate(wrappers[type_name](value), K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise AssertionError(f"{where}: {exc.message}") from None


def test_inferenceservice_matches_kserves_model_classes():
    constants = pytest.importorskip("kserve.constants.constants")
    (isvc,) = documents("inferenceservice.yaml")
    assert (isvc["apiVersion"], isvc["kind"]) == (
        f"{constants.KSERVE_GROUP}/{constants.KSERVE_V1BETA1_VERSION}", constants.KSERVE_KIND_INFERENCESERVICE)
    built = kserve_object(isvc, "V1beta1InferenceService", "InferenceService")
    assert built.spec.predictor.containers[0].image == isvc["spec"]["predictor"]["containers"][0]["image"]


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s["spec"]["predictor"].update(containerz=[]), "not fields of V1beta1PredictorSpec"),
    (lambda s: s["spec"]["predictor"]["containers"][0].update(readinesProbe={}), "readinesProbe"),
    (lambda s: s["spec"]["predictor"].update(minReplicas="1"), "expected int"),
    (lambda s: s["spec"].pop("predictor"), "predictor"),
])
def test_inferenceservice_check_catches_mistakes(mutate, message):
    pytest.importorskip("kserve")
    (isvc,) = documents("inferenceservice.yaml")
    mutate(isvc)
    with pytest.raises((AssertionError, ValueError), match=message):
        kserve_object(isvc, "V1beta1InferenceService", "InferenceService")


def test_inferenceservice_agrees_with_the_server(monkeypatch):
    (isvc,) = documents("inferenceservice.yaml")
    (container,) = isvc["spec"]["predictor"]["containers"]
    settings = check_container(container, monkeypatch)
    assert container["readinessProbe"]["httpGet"]["path"].startswith("/v2/")  # the protocol's own checks
    annotations = isvc["metadata"]["annotations"]
    assert int(annotations["prometheus.kserve.io/port"]) == settings.port
    assert annotations["prometheus.kserve.io/path"] == "/metrics"


# --- Dockerfile -----------------------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile_instructions()
    start = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[start:]


def dockerfile_env(steps: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for op, args in steps:
        if op == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(args))
    return env


def test_dockerfile_installs_the_serve_extra_only_and_runs_as_a_user(monkeypatch):
    steps = final_stage()
    installs = [args for op, args in steps if op == "RUN" and "pip install" in args]
    assert len(installs) == 1 and "[serve]" in installs[0]
    assert not re.search(r"torch|\[train|\[dev|\[gpu", installs[0])
    requires = metadata.requires("callinkit") or []  # base and [serve] requirements: no torch
    serve_deps = [r for r in requires if "extra ==" not in r or 'extra == "serve"' in r]
    assert serve_deps and not [d for d in serve_deps if d.startswith(("torch", "transformers"))]
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    entrypoint = json.loads(next(args for op, args in steps if op == "ENTRYPOINT"))
    scripts = metadata.entry_points(group="console_scripts", name="callinkit")
    assert entrypoint == ["callinkit", "serve"] and [s.value for s in scripts] == ["callinkit.cli:main"]
    settings = served_settings(dockerfile_env(steps), monkeypatch)
    assert settings.host == "0.0.0.0"
    assert [args for op, args in steps if op == "EXPOSE"] == [str(settings.port)]


def test_dockerfile_copies_what_exists_and_the_dockerignore_lets_it_through():
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = [args.split()[:-1] for op, args in dockerfile_instructions()
               if op == "COPY" and not args.startswith("--from")]
    for source in (s for group in sources for s in group):
        assert (REPO / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is copied but deploy/Dockerfile.dockerignore drops it"


def test_dockerfile_healthcheck_passes_on_a_ready_server_and_fails_without_one(tiny_bundle):
    healthcheck = next(args for op, args in final_stage() if op == "HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1])
    assert command[0] == "python" and "/readyz" in command[-1] and "/readyz" in app_paths()
    port = free_port()
    env = {"PATH": "", "CALLINKIT_PORT": str(port)}
    check = [sys.executable, *command[1:]]
    assert subprocess.run(check, env=env, capture_output=True, timeout=30).returncode != 0  # nothing listening
    with without_callinkit_env():
        proc = subprocess.Popen([sys.executable, "-m", "callinkit", "serve", "--classifier-bundle", str(tiny_bundle),
                                 "--rewriter-bundle", "none", "--port", str(port), "--log-level", "warning"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", proc)
        healthy = subprocess.run(check, env=env, capture_output=True, text=True, timeout=30)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert healthy.returncode == 0, healthy.stderr
