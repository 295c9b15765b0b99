#!/usr/bin/env python3
"""Makes the bundled samples in data/ from the real histories in ../shared/data/.

    python3 data/make-samples.py [SHARED_DATA_DIR]

SHARED_DATA_DIR defaults to ../shared/data beside the project. Python 3 standard
library only, fixed seed: re-running on the same input gives byte-identical files.

Writes:
  data/sample-events.jsonl.gz  ~5,000 real observations (whole tag histories), sorted by instant
  data/image-strings.txt       10,000 real image strings, one per line, in the forms clusters show
  data/demo-images.jsonl       ten running images {"image","digest"} for scripts/demo.sh
"""
import gzip
import json
import os
import random
import sys
from collections import defaultdict
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "data")
SEED = 20261125


def rows(name):
    with gzip.open(os.path.join(SHARED, name), "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def instant(o):
    """observed_at as a UTC instant (the pinned file keeps its commits' UTC offsets)."""
    return datetime.fromisoformat(o["observed_at"].replace("Z", "+00:00")).timestamp()


def familiar(repo):
    """The short form people type: docker.io/library/nginx -> nginx, docker.io/istio/pilot -> istio/pilot."""
    if repo.startswith("docker.io/library/") and repo.count("/") == 2:
        return repo[len("docker.io/library/"):]
    if repo.startswith("docker.io/"):
        return repo[len("docker.io/"):]
    return repo


events = list(rows("tag-events.jsonl.gz"))           # normalized names, UTC, sorted by time
pinned = list(rows("pinned-tag-history.jsonl.gz"))   # names and offsets as written

by_tag = defaultdict(list)
for e in events:
    by_tag[(e["repository"], e["tag"])].append(e)
pin_by_tag = defaultdict(list)
for p in pinned:
    pin_by_tag[(p["repository"], p["tag"])].append(p)

# ---------------------------------------------------------------------------
# sample-events.jsonl.gz: whole histories (every event of each chosen tag).
# ---------------------------------------------------------------------------
rng = random.Random(SEED)

# Long mutable docker.io tags (ghost:latest is the longest history, 307 events).
LONG = [("nginx", "latest"), ("nginx", "1.13"), ("nginx", "mainline"), ("nginx", "stable"),
        ("nginx", "alpine"), ("ghost", "latest"), ("ghost", "1"), ("python", "3"),
        ("python", "latest"), ("python", "2.7"), ("python", "3.6"), ("redis", "latest"),
        ("ubuntu", "16.04"), ("alpine", "3.6"), ("drupal", "8")]
chosen = [("docker.io/library/" + r, t) for r, t in LONG]
chosen = [k for k in chosen if k in by_tag]
# Every registry.k8s.io tag that moved (21 of them: re-promotions, reverts, swaps).
chosen += sorted(k for k, v in by_tag.items() if k[0].startswith("registry.k8s.io/") and len(v) > 1)
taken = set(chosen)
docker = sorted(k for k in by_tag if k[0].startswith("docker.io/") and k not in taken)
k8s = sorted(k for k in by_tag if k[0].startswith("registry.k8s.io/") and k not in taken)
chosen += rng.sample(docker, 170) + rng.sample(k8s, 600)
sample = [e for k in chosen for e in by_tag[k]]
n_events = len(sample)

# Pinned rows, kept exactly as written: familiar names (python, golang), index.docker.io/...,
# UTC offsets, the same pin repeated in later commits. The importer normalizes all of that.
pin_tags = sorted(pin_by_tag)
pin_keep = {("python", "3.14"), ("python", "3.13"), ("ubuntu", "20.04"),
            ("ghcr.io/containerbase/ubuntu", "24.04"), ("golang", "1.21.1")}
# Tags observed at one instant with two digests (multi-arch pins): the tie rule has to decide.
ties = defaultdict(set)
for p in pinned:
    ties[(p["repository"], p["tag"], instant(p))].add(p["digest"])
tie_tags = sorted({(r, t) for (r, t, _), ds in ties.items() if len(ds) > 1})
pin_keep |= set(rng.sample(tie_tags, min(15, len(tie_tags))))
pin_keep |= set(rng.sample([k for k in pin_tags if k not in pin_keep], 120))
pin_keep = {k for k in pin_keep if k in pin_by_tag}
sample += [p for p in pinned if (p["repository"], p["tag"]) in pin_keep]

sample.sort(key=instant)  # stable: equal instants keep file order (chosen tag, then pinned)
with open(os.path.join(HERE, "sample-events.jsonl.gz"), "wb") as raw:
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        for o in sample:
            f.write((json.dumps(o, separators=(",", ":")) + "\n").encode())

# ---------------------------------------------------------------------------
# image-strings.txt: 10,000 image strings as clusters and manifests show them.
# ---------------------------------------------------------------------------
rng = random.Random(SEED + 1)
N = 10_000


def from_events(o):
    """A Docker Hub / registry.k8s.io observation in one of the forms a cluster shows."""
    r, t, d = o["repository"], o["tag"], o["digest"]
    f = familiar(r)
    return rng.choice([
        f"{f}:{t}",                           # what a pod spec says: nginx:1.13
        f"{f}:{t}",
        f"{r}:{t}",                           # canonical tag ID
        f,                                    # no tag: nginx, istio/pilot
        f"{f}@{d}",                           # pinned by digest
        f"{r}@{d}",
        f"{f}:{t}@{d}",                       # tag and digest
        f"{r}:{t}@{d}",
        f"docker-pullable://{f}@{d}",         # containerStatuses[].imageID (dockershim)
        f"docker-pullable://{r}@{d}",
        d,                                    # containerd imageID: sha256:...
        d.split(":", 1)[1],                   # bare 64-hex image ID
    ])


def from_pinned(o):
    """A pin from a project's manifests, name as written (python, ghcr.io/..., index.docker.io/...)."""
    r, t, d = o["repository"], o["tag"], o["digest"]
    return rng.choice([f"{r}:{t}@{d}", f"{r}:{t}@{d}", f"{r}:{t}", f"{r}@{d}"])


strings = []
for i in range(N):
    if i % 5 == 4:                            # a fifth from the pinned file
        strings.append(from_pinned(rng.choice(pinned)))
    else:
        strings.append(from_events(rng.choice(events)))
with open(os.path.join(HERE, "image-strings.txt"), "w", encoding="utf-8", newline="\n") as f:
    f.write("\n".join(strings) + "\n")

# ---------------------------------------------------------------------------
# demo-images.jsonl: running images with the digest each runs, one of every answer kind.
# ---------------------------------------------------------------------------
nginx = by_tag[("docker.io/library/nginx", "latest")]
nginx113 = by_tag[("docker.io/library/nginx", "1.13")]
k8s_one = by_tag[chosen[-1]][0]
py = pin_by_tag[("python", "3.14")]
demo = [
    {"image": "nginx:latest", "digest": nginx[-1]["digest"]},                         # current
    {"image": "nginx", "digest": nginx[len(nginx) // 2]["digest"]},                   # historical (nginx means nginx:latest)
    {"image": "docker-pullable://nginx@" + nginx[0]["digest"]},                       # digest only, known under a tag
    {"image": "nginx:1.13", "digest": nginx113[-1]["digest"]},                        # current under 1.13
    {"image": "my-mirror.example.com/nginx:1.13", "digest": nginx113[-1]["digest"]},  # other tags: a mirror
    {"image": "nginx:1.13", "digest": "sha256:" + "0" * 64},                          # tag only: unknown digest
    {"image": f"{k8s_one['repository']}:{k8s_one['tag']}", "digest": k8s_one["digest"]},
    {"image": "python:3.14", "digest": py[0]["digest"]},                              # a pin repinned since
    {"image": "python:3.14", "digest": py[-1]["digest"]},
    {"image": "ghcr.io/acme/unknown:1.0", "digest": "sha256:" + "1" * 64},            # unknown
]
with open(os.path.join(HERE, "demo-images.jsonl"), "w", encoding="utf-8", newline="\n") as f:
    for d in demo:
        f.write(json.dumps(d, separators=(",", ":")) + "\n")

n_tags = len({(o["repository"], o["tag"]) for o in sample})
print(f"sample-events.jsonl.gz: {len(sample)} observations of {n_tags} tags: {n_events} from tag-events "
      f"({len(chosen)} tags), {len(sample) - n_events} pinned rows ({len(pin_keep)} tags)")
print(f"image-strings.txt: {len(strings)} strings; demo-images.jsonl: {len(demo)} images")
