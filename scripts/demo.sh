#!/usr/bin/env bash
# The main job on bundled real data: build, import tag history and the image index ->
# platform manifest -> config relations into a fresh ledger, then classify every container
# of a cluster's pod list (kubectl get pods -A -o json). Works without ../shared; set
# OCILEDGER_DEMO_FULL=1 to import the full shared histories (~208k observations, ~63k
# relation lines) instead of the bundled slices when they are present.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
bin=target/release/ociledger
db=target/demo.redb
rm -f "$db"

events=(data/sample-events.jsonl.gz)
manifests=(data/sample-manifests.jsonl.gz)
if [[ "${OCILEDGER_DEMO_FULL:-0}" == 1 && -f ../shared/data/tag-events.jsonl.gz ]]; then
  events=(../shared/data/tag-events.jsonl.gz ../shared/data/pinned-tag-history.jsonl.gz)
  manifests=(../shared/data/manifest-children.jsonl.gz ../shared/data/manifest-configs.jsonl.gz)
fi

# field JSON NAME: a number from one line of the import summary.
field() { local v=${1#*\"$2\":}; echo "${v%%[,\}]*}"; }

for f in "${events[@]}"; do
  s=$("$bin" --db "$db" --actor demo import "$f")
  echo "== import $f: $(field "$s" observations) observations, $(field "$s" tags_created) new tags, $(field "$s" references_created) new references"
done
for f in "${manifests[@]}"; do
  s=$("$bin" --db "$db" --actor demo import --manifests "$f")
  echo "== import --manifests $f: $(field "$s" relations_created) relations (index -> platform manifest, manifest -> config)"
done
"$bin" --db "$db" compact > /dev/null

echo "== classify --pods data/demo-pods.json (a cluster's kubectl get pods -A -o json)"
"$bin" --db "$db" classify --pods data/demo-pods.json --output table 2>&1
