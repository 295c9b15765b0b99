#!/usr/bin/env bash
# The main job on bundled real data: build, import tag history into a fresh
# ledger, then classify running images and show the answers. Works without
# ../shared; set OCILEDGER_DEMO_FULL=1 to import the full shared histories
# (~208k observations) instead of the bundled slice when they are present.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
bin=target/release/ociledger
db=target/demo.redb
rm -f "$db"

events=(data/sample-events.jsonl.gz)
if [[ "${OCILEDGER_DEMO_FULL:-0}" == 1 && -f ../shared/data/tag-events.jsonl.gz ]]; then
  events=(../shared/data/tag-events.jsonl.gz ../shared/data/pinned-tag-history.jsonl.gz)
fi

for f in "${events[@]}"; do
  echo "== import $f"
  "$bin" --db "$db" --actor demo import "$f"
done

echo "== compact (give back the pages copy-on-write left free during the import)"
"$bin" --db "$db" compact

echo "== stats"
"$bin" --db "$db" stats

echo "== classify data/demo-images.jsonl (image string + running digest, one per line)"
start=$(date +%s%N)
"$bin" --db "$db" classify - < data/demo-images.jsonl > target/demo-answers.jsonl
end=$(date +%s%N)
# One line per answer: kind, image, and the tag/interval evidence, shortened for reading.
while IFS= read -r line; do
  kind=${line#*\"kind\":\"}; kind=${kind%%\"*}
  image=${line#*\"image\":\"}; image=${image%%\"*}
  evidence=""
  if [[ $line == *'"matches":[{"tag":"'* ]]; then
    evidence=${line#*\"matches\":[\{\"tag\":\"}; evidence="-> ${evidence%%\"*}"
    since=${line#*\"matches\":[\{*\"since\":\"}; evidence+=" since ${since%%\"*}"
  fi
  printf '%-11s %-58s %s\n' "$kind" "$image" "$evidence"
done < target/demo-answers.jsonl
n=$(wc -l < target/demo-answers.jsonl)
echo "== $n images classified in $(( (end - start) / 1000000 )) ms (process start included); full answers in target/demo-answers.jsonl"
