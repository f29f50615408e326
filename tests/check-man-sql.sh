#!/bin/sh
# check-man-sql.sh - estca-sql(7) keeps up with doc/dba.md: every est.NAME
# the document mentions (functions, views, tables) appears in the man page.
# DBA functions of the migrations (granted to estca_dba) that neither
# names yet are listed as notes, not failures: a migration being written
# is documented with it.  TAP output; no root, no rig.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
doc=$top_srcdir/doc/dba.md
man=$top_srcdir/man/estca-sql.7
n=0
failed=0
check() {
	n=$((n + 1))
	if grep -q "$2" "$3"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=$((failed + 1))
	fi
}
for f in "$doc" "$man"; do
	[ -r "$f" ] || { echo "Bail out! $f missing"; exit 1; }
done
for name in $(grep -o 'est\.[a-z_][a-z_]*' "$doc" | sort -u); do
	check "$name of doc/dba.md in estca-sql(7)" "$name\\b" "$man"
done
# Functions granted to estca_dba in the migrations, in both documents.
for name in $(cat "$top_srcdir"/sql/[0-9][0-9][0-9]_*.sql |
    tr '\n\t' '  ' | grep -o 'GRANT EXECUTE ON FUNCTION[^;]*TO estca_dba' |
    grep -o 'est\.[a-z_][a-z_]*' | sort -u); do
	for f in "$doc" "$man"; do
		grep -q "$name\\b" "$f" ||
		    echo "# note: $name (granted to estca_dba) not in ${f#"$top_srcdir"/} yet"
	done
done
echo "1..$n"
[ "$failed" -eq 0 ]
