"""``deploy/helm/iochost``: rendered offline (``gotemplate``: the part of Helm's template
language the chart uses) and validated against Kubernetes' own OpenAPI schemas
(kubernetes-validate), its host configs checked as ``iochost check`` does."""
import copy
import io
from pathlib import Path

import pytest
import yaml
from gotemplate import Renderer, TemplateError

from iochost.host.verbs import PluginSwitches, check

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "iochost"
KUBERNETES = "1.30"          # a version the schemas of kubernetes-validate cover


def values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def render(vals: dict, release: str = "bl") -> list[dict]:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    root = {"Values": vals, "Release": {"Name": release, "Namespace": "default"},
            "Chart": {"Name": chart["name"], "Version": chart["version"]}}
    renderer = Renderer(root)
    documents = []
    for template in sorted((CHART / "templates").glob("*.yaml")):
        text = renderer.render(template.read_text())
        documents += [d for d in yaml.safe_load_all(text) if d is not None]
    return documents


def by_kind(documents: list[dict], kind: str) -> list[dict]:
    return [d for d in documents if d["kind"] == kind]


def test_the_default_values_render_valid_kubernetes_objects():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    documents = render(values())
    assert sorted(d["kind"] for d in documents) == ["ConfigMap", "StatefulSet"]
    for document in documents:
        # strict: an unknown field (a typo in the template) is an error too
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_a_statefulset_per_host_on_the_nodes_network_with_its_config_and_autosave():
    vals = values()
    second = copy.deepcopy(vals["hosts"][0])
    second.update(name="vac", caPort=5070, webPort=8081,
                  nodeSelector={"kubernetes.io/hostname": "ioc-2"},
                  env={"EPICS_CA_NAME_SERVERS": "10.0.0.9:5064"})
    second["autosave"]["storageClassName"] = "fast"
    vals["hosts"].append(second)
    documents = render(vals)
    sets = {d["metadata"]["name"]: d for d in by_kind(documents, "StatefulSet")}
    maps = {d["metadata"]["name"]: d for d in by_kind(documents, "ConfigMap")}
    assert sorted(sets) == sorted(maps) == ["bl-lab", "bl-vac"]
    lab, vac = sets["bl-lab"], sets["bl-vac"]
    pod = vac["spec"]["template"]["spec"]
    assert vac["spec"]["replicas"] == 1
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": "ioc-2"}
    assert "nodeSelector" not in lab["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container, = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"EPICS_CAS_SERVER_PORT": "5070", "IOCHOST_WEB_LISTEN": "0.0.0.0:8081",
                   "EPICS_CA_NAME_SERVERS": "10.0.0.9:5064"}
    assert {(p["containerPort"], p["protocol"]) for p in container["ports"]} == {
        (5070, "UDP"), (5070, "TCP"), (8081, "TCP")}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "web"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"config": "/etc/iochost", "autosave": "/var/lib/iochost",
                      "run": "/run/iochost"}
    assert pod["volumes"][0]["configMap"]["name"] == "bl-vac"
    claim, = vac["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "autosave"
    assert claim["spec"]["storageClassName"] == "fast"
    assert "storageClassName" not in lab["spec"]["volumeClaimTemplates"][0]["spec"]
    # the ConfigMap holds the host config verbatim
    assert maps["bl-vac"]["data"]["host.yaml"] == second["config"]


def test_the_charts_host_config_passes_iochost_check(tmp_path):
    config = tmp_path / "host.yaml"
    config.write_text(render(values())[0]["data"]["host.yaml"])
    out, err = io.StringIO(), io.StringIO()
    assert check(str(config), PluginSwitches(), out=out, err=err) == 0, err.getvalue()


def test_the_renderer_refuses_what_it_does_not_implement():
    for text in ("{{ include \"x\" . }}", "{{ if .a }}x", "{{ .a | upper }}", "{{ end }}"):
        with pytest.raises(TemplateError):
            Renderer({"a": 1}).render(text)
    # and implements what it claims, as Go does
    assert Renderer({"m": {"b": 2, "a": 1}}).render(
        "{{- range $k, $v := .m }} {{ $k }}={{ $v }}{{ end }}") == " a=1 b=2"
    assert Renderer({"x": {"k": [1]}}).render("a:\n  {{- toYaml .x | nindent 2 }}") == \
        "a:\n  k:\n  - 1"
