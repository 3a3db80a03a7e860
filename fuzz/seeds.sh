#!/usr/bin/env bash
# Fills fuzz/corpus/<target> with seeds from fixtures/xml (the corpus is not committed).
# reader: the files as they are. validate: each file behind the byte that makes the target
# pick a file name of the same kind (the index into NAMES in fuzz_targets/validate.rs).
# package: a few ZIPs of the H 3.2 + L 3.2 pair (made with python3's zipfile when python3 is
# there; without seeds the target starts from nothing and finds the ZIP format more slowly).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/reader corpus/validate corpus/package
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
if command -v python3 >/dev/null 2>&1; then
  python3 - <<'PY'
import zipfile
h = open("../fixtures/xml/zl_list/3.2/HM750096T75_2601001.xml", "rb").read()
l = open("../fixtures/xml/pers_list/3.2/LM750096T75_2601001.xml", "rb").read()
bad = open("../fixtures/xml/zl_list/3.2/invalid/HM750096T75_2601001_905_N_ZAP.xml", "rb").read()
cases = {
    "stored": [("HM750096T75_2601001.xml", h), ("LM750096T75_2601001.xml", l)],
    "deflated": [("HM750096T75_2601001.xml", h), ("LM750096T75_2601001.xml", l)],
    "signed": [("HM750096T75_2601001.xml", h), ("HM750096T75_2601001.xml.sig", b"sig"),
               ("LM750096T75_2601001.xml", l)],
    "invalid": [("HM750096T75_2601001.xml", bad), ("LM750096T75_2601001.xml", l)],
    "half": [("HM750096T75_2601001.xml", h)],
}
for name, entries in cases.items():
    method = zipfile.ZIP_STORED if name == "stored" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(f"corpus/package/{name}.zip", "w", method) as z:
        for entry, data in entries:
            z.writestr(entry, data)
print(f"seeds: {len(cases)} ZIP packages into fuzz/corpus/package")
PY
fi
