#!/usr/bin/env python3
"""Makes the bundled samples in data/ from the real histories in ../shared/data/.

Standard library only, fixed seed: re-running gives the same files.
  python3 data/make-samples.py
"""
import gzip, json, random, os

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")
rng = random.Random(20261125)

def rows(name):
    with gzip.open(os.path.join(SHARED, name), "rt") as f:
        for line in f:
            yield json.loads(line)

events = list(rows("tag-events.jsonl.gz"))
pinned = list(rows("pinned-tag-history.jsonl.gz"))

by_tag = {}
for e in events:
    by_tag.setdefault((e["repository"], e["tag"]), []).append(e)

# Whole histories: some long mutable docker.io tags, a random spread of others, some k8s.
chosen = [("docker.io/library/nginx", t) for t in ("latest", "1.13", "mainline", "stable", "alpine")]
chosen += [("docker.io/library/ghost", "latest"), ("docker.io/library/python", "3"), ("docker.io/library/python", "latest"),
           ("docker.io/library/redis", "latest"), ("docker.io/library/ubuntu", "16.04"), ("docker.io/library/alpine", "3.6")]
chosen = [k for k in chosen if k in by_tag]
docker = sorted(k for k in by_tag if k[0].startswith("docker.io/") and k not in chosen)
k8s = sorted(k for k in by_tag if k[0].startswith("registry.k8s.io/"))
chosen += rng.sample(docker, 160) + rng.sample(k8s, 600)
sample = [e for k in chosen for e in by_tag[k]]

# Pinned rows kept as written (familiar names, UTC offsets, repeats): the importer normalizes.
pin_tags = sorted({(p["repository"], p["tag"]) for p in pinned})
pin_keep = set(rng.sample(pin_tags, 120)) | {k for k in pin_tags if k[0] in ("python", "ubuntu") and k[1] in ("3.14", "20.04")}
sample += [p for p in pinned if (p["repository"], p["tag"]) in pin_keep]

def instant(o):
    from datetime import datetime
    return datetime.fromisoformat(o["observed_at"].replace("Z", "+00:00")).timestamp()
sample.sort(key=instant)
with gzip.GzipFile(os.path.join(HERE, "sample-events.jsonl.gz"), "wb", mtime=0) as f:
    for o in sample:
        f.write((json.dumps(o, separators=(",", ":")) + "\n").encode())

# 10,000 image strings in the forms clusters show.
strings = []
def familiar(repo):
    if repo.startswith("docker.io/library/") and repo.count("/") == 2:
        return repo[len("docker.io/library/"):]
    if repo.startswith("docker.io/"):
        return repo[len("docker.io/"):]
    return repo
pool = events + pinned
for i in range(10000):
    o = rng.choice(pool)
    r, t, d = o["repository"], o["tag"], o["digest"]
    form = i % 8
    strings.append([f"{r}:{t}", f"{familiar(r)}:{t}", f"{r}@{d}", f"{familiar(r)}:{t}@{d}",
                    f"docker-pullable://{r}@{d}", d, d.split(":", 1)[1], familiar(r)][form])
with open(os.path.join(HERE, "image-strings.txt"), "w") as f:
    f.write("\n".join(strings) + "\n")

# Demo: running images with the digest each runs, one of every answer kind.
nginx = by_tag[("docker.io/library/nginx", "latest")]
nginx113 = by_tag[("docker.io/library/nginx", "1.13")]
k8s_one = by_tag[chosen[-1]][0]
py = [p for p in pinned if p["repository"] == "python" and p["tag"] == "3.14"]
demo = [
    {"image": "nginx:latest", "digest": nginx[-1]["digest"]},                       # current
    {"image": "nginx", "digest": nginx[len(nginx) // 2]["digest"]},                 # historical (nginx means nginx:latest)
    {"image": "docker-pullable://nginx@" + nginx[0]["digest"]},                     # digest only, known under a tag
    {"image": "nginx:1.13", "digest": nginx113[-1]["digest"]},                      # current under 1.13
    {"image": "my-mirror.example.com/nginx:1.13", "digest": nginx113[-1]["digest"]},  # other tags: a mirror
    {"image": "nginx:1.13", "digest": "sha256:" + "0" * 64},                        # tag only: unknown digest
    {"image": f"{k8s_one['repository']}:{k8s_one['tag']}", "digest": k8s_one["digest"]},
    {"image": "python:3.14", "digest": py[0]["digest"]},                            # a pin repinned since
    {"image": "python:3.14", "digest": py[-1]["digest"]},
    {"image": "ghcr.io/acme/unknown:1.0", "digest": "sha256:" + "1" * 64},          # unknown
]
with open(os.path.join(HERE, "demo-images.jsonl"), "w") as f:
    for d in demo:
        f.write(json.dumps(d, separators=(",", ":")) + "\n")
print(len(sample), "events,", len(strings), "image strings,", len(demo), "demo images")
