#!/usr/bin/env python3
"""Makes the bundled manifest relations and the demo pod list from ../shared/data/.

    python3 data/make-manifest-samples.py [SHARED_DATA_DIR]

Run after make-samples.py (it reads data/sample-events.jsonl.gz). Python 3 standard library
only, no randomness: re-running on the same input gives byte-identical files.

Writes:
  data/sample-manifests.jsonl.gz  the real relations of the sample's digests, as the shared files
                                  write them: every image index in the sample with its platform
                                  manifests and their configs, and every single manifest's config
  data/demo-pods.json             a kubectl `get pods -A -o json` List (Kubernetes API shape) whose
                                  containers report what real runtimes report, built from real digests
"""
import gzip
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "data")


def rows(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


events = list(rows(os.path.join(HERE, "sample-events.jsonl.gz")))
digests = {e["digest"] for e in events}

indexes = {r["index"]: r for r in rows(os.path.join(SHARED, "manifest-children.jsonl.gz")) if r["index"] in digests}
configs = {
    r["manifest"]: r
    for r in rows(os.path.join(SHARED, "manifest-configs.jsonl.gz"))
    if r["manifest"] in digests and r["source"] == "tag"
}

out = os.path.join(HERE, "sample-manifests.jsonl.gz")
with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
    for d in sorted(indexes):
        gz.write((json.dumps(indexes[d], separators=(",", ":")) + "\n").encode())
    for d in sorted(configs):
        gz.write((json.dumps(configs[d], separators=(",", ":")) + "\n").encode())
print(f"{out}: {len(indexes)} indexes, {len(configs)} single-manifest configs")


def history(repo, tag):
    return [e for e in events if (e["repository"], e["tag"]) == (repo, tag)]


def child(index, arch, variant=None):
    for m in indexes[index]["manifests"]:
        p = m["platform"]
        if p["architecture"] == arch and p.get("variant") == variant:
            return m
    raise KeyError((index, arch, variant))


nginx_latest = history("docker.io/library/nginx", "latest")
nginx_113 = history("docker.io/library/nginx", "1.13")
redis = history("docker.io/library/redis", "latest")
ghost = history("docker.io/library/ghost", "latest")
# A single-manifest tag with a config, for a side-loaded image that reports its config digest.
single = next(e for e in reversed(events) if e["digest"] in configs and e["repository"].startswith("docker.io/library/"))


def status(name, image, image_id, state="running"):
    s = {"name": name, "image": image, "imageID": image_id, "ready": state == "running",
         "restartCount": 0, "started": state == "running",
         "state": {state: {"startedAt": "2018-01-28T09:00:00Z"}} if state == "running" else {state: {}}}
    return s


def pod(ns, name, containers, statuses=None, init=None, init_statuses=None, ephemeral=None,
        ephemeral_statuses=None, phase="Running"):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": ns, "uid": "00000000-0000-4000-8000-" + hashlib.sha256(name.encode()).hexdigest()[:12]},
         "spec": {"containers": containers},
         "status": {"phase": phase}}
    if init:
        p["spec"]["initContainers"] = init
    if ephemeral:
        p["spec"]["ephemeralContainers"] = ephemeral
    if statuses is not None:
        p["status"]["containerStatuses"] = statuses
    if init_statuses is not None:
        p["status"]["initContainerStatuses"] = init_statuses
    if ephemeral_statuses is not None:
        p["status"]["ephemeralContainerStatuses"] = ephemeral_statuses
    return p


cur = nginx_latest[-1]["digest"]                      # the index nginx:latest points to now
# The amd64 platform manifest of an index nginx:1.13 pointed to before, and no
# longer listed by the index it points to now: a stale deployment, as CRI-O reports it.
now_listed = {m["digest"] for m in indexes[nginx_113[-1]["digest"]]["manifests"]}
crio_child = next(
    child(e["digest"], "amd64")["digest"]
    for e in reversed(nginx_113[:-1])
    if e["digest"] in indexes and child(e["digest"], "amd64")["digest"] not in now_listed
)
redis_cfg = child(redis[-1]["digest"], "amd64")["config"]
ghost_old = ghost[-2]["digest"]
single_cfg = configs[single["digest"]]["config"]
single_name = single["repository"].split("/")[-1] + ":" + single["tag"]
made_up = "sha256:" + "0" * 60 + "dead"

items = [
    # containerd (and cri-dockerd): repo@<the index the tag resolved to>
    pod("web", "nginx-6d4cf56db6-x7k2p", [{"name": "nginx", "image": "nginx:latest"}],
        [status("nginx", "docker.io/library/nginx:latest", f"docker-pullable://nginx@{cur}")],
        init=[{"name": "wait-for-config", "image": "ghost:latest"}],
        init_statuses=[status("wait-for-config", "ghost:latest", f"docker.io/library/ghost@{ghost_old}", "terminated")]),
    # CRI-O: a platform manifest digest, reported under another repository's name (a mirror)
    pod("web", "nginx-legacy-0", [{"name": "nginx", "image": "nginx:1.13"}],
        [status("nginx", "mirror.example.com/library/nginx:1.13", f"mirror.example.com/library/nginx@{crio_child}")]),
    # cri-dockerd without a repo digest: the config digest
    pod("cache", "redis-0", [{"name": "redis", "image": "redis"}],
        [status("redis", "redis:latest", f"docker://{redis_cfg}")],
        ephemeral=[{"name": "debugger", "image": single_name, "targetContainerName": "redis"}],
        ephemeral_statuses=[status("debugger", single_name, single_cfg)]),
    # pending: no status yet
    pod("jobs", "report-28410", [{"name": "report", "image": "python:3.6"}], phase="Pending"),
    # an image nobody recorded
    pod("acme", "billing-7f9c", [{"name": "billing", "image": "ghcr.io/acme/billing:1.4"}],
        [status("billing", "ghcr.io/acme/billing:1.4", f"ghcr.io/acme/billing@{made_up}")]),
]
doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}
with open(os.path.join(HERE, "demo-pods.json"), "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"data/demo-pods.json: {len(items)} pods")
