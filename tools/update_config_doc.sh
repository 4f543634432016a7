#!/bin/sh
# update_config_doc.sh - rewrites the generated key table of docs/config.md (between its BEGIN
# and END markers) from the key table in src/config/config.c, through `attncast train --keys
# --markdown`. tests/cli/test_docs_cli fails until this is run after a key changes.
#   tools/update_config_doc.sh [ATTNCAST_BINARY]     (default: $ATTNCAST_BIN, else build/attncast)
set -eu
cd "$(dirname "$0")/.."
bin=${1:-${ATTNCAST_BIN:-build/attncast}}
doc=docs/config.md
table=$(mktemp)
out=$(mktemp)
trap 'rm -f "$table" "$out"' EXIT
"$bin" train --keys --markdown >"$table"
grep -q '^<!-- BEGIN generated: attncast train --keys --markdown -->$' "$doc"
grep -q '^<!-- END generated -->$' "$doc"
awk -v table="$table" '
    /^<!-- BEGIN generated: attncast train --keys --markdown -->$/ {
        print; while ((getline line < table) > 0) print line; skip = 1; next
    }
    /^<!-- END generated -->$/ { skip = 0 }
    !skip { print }
' "$doc" >"$out"
cat "$out" >"$doc"
echo "rewrote the key table of $doc"
