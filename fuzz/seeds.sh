#!/usr/bin/env bash
# Fills fuzz/corpus/<target> with seeds from fixtures/xml (the corpus is not committed).
# reader: the files as they are. validate: each file behind the byte that makes the target
# pick a file name of the same kind (the index into NAMES in fuzz_targets/validate.rs).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/reader corpus/validate
for f in $(find ../fixtures/xml -name '*.xml' | sort); do
  base=$(basename "$f")
  cp "$f" "corpus/reader/$base"
  case "$base" in
    H*) pick=0 ;;
    LT*) pick=5 ;;
    L*) pick=1 ;;
    T*) pick=2 ;;
    C*) pick=3 ;;
    D*) pick=4 ;;
    V*) pick=6 ;;
    F*) pick=8 ;;
    *) pick=7 ;;
  esac
  { printf "\\$(printf '%03o' "$pick")"; cat "$f"; } >"corpus/validate/$base"
done
echo "seeds: $(find ../fixtures/xml -name '*.xml' | wc -l) fixtures into fuzz/corpus/reader and fuzz/corpus/validate"
