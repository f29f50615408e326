#!/bin/bash
# check-banned.sh - fail if estca's C code calls a banned function, or if
# the web tier (fcgi/) or the shared library (lib/) includes a header that
# belongs to the key-holding engine (engine/*.h).
#
# Banned: strcpy, strcat, sprintf (and vsprintf), strtok, atoi, sscanf,
# gets.  The match is the whole word followed by "(", so snprintf, strtol,
# strtok_r or fgets do not match.  Comments are not exempt; reword them.
# (The build enforces the second rule too: fcgi/ and lib/ are compiled
# with -I lib only.  This check names the offending line.)
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top_srcdir" || exit 1

files=$(find lib engine fcgi tests bench -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)
if [ -z "$files" ]; then
	echo "1..0 # SKIP no C files found under $top_srcdir"
	exit 77
fi

# shellcheck disable=SC2086 # one word per file name; names have no blanks
hits=$(grep -n -E '\<(strcpy|strcat|sprintf|vsprintf|strtok|atoi|sscanf|gets)[[:space:]]*\(' $files)
n=$(echo "$files" | wc -l)
status=0
if [ -n "$hits" ]; then
	echo "not ok 1 - no banned functions in $n C files"
	echo "$hits" | sed 's/^/#   /'
	status=1
else
	echo "ok 1 - no banned functions in $n C files"
fi

# Headers only the engine may include: every engine/*.h.
engine_h=$(find engine -maxdepth 1 -name '*.h' -printf '%f\n' | sort)
web=$(find lib fcgi -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) | sort)
hits=
for h in $engine_h; do
	# shellcheck disable=SC2086
	hits=$hits$(grep -n -F "#include \"$h\"" $web)
done
if [ -z "$engine_h" ]; then
	echo "not ok 2 - engine headers found"
	status=1
elif [ -n "$hits" ]; then
	echo "not ok 2 - fcgi/ and lib/ include no engine header ($(echo $engine_h))"
	echo "$hits" | sed 's/^/#   /'
	status=1
else
	echo "ok 2 - fcgi/ and lib/ include no engine header ($(echo $engine_h | wc -w) headers)"
fi
echo "1..2"
exit $status
