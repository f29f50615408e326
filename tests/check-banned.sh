#!/bin/bash
# check-banned.sh - fail if estca's C code calls a banned function.
#
# Banned: strcpy, strcat, sprintf (and vsprintf), strtok, atoi, sscanf,
# gets.  The match is the whole word followed by "(", so snprintf, strtol,
# strtok_r or fgets do not match.  Comments are not exempt; reword them.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top_srcdir" || exit 1

files=$(find engine fcgi tests -maxdepth 1 -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)
if [ -z "$files" ]; then
	echo "1..0 # SKIP no C files found under $top_srcdir"
	exit 77
fi

# shellcheck disable=SC2086 # one word per file name; names have no blanks
hits=$(grep -n -E '\<(strcpy|strcat|sprintf|vsprintf|strtok|atoi|sscanf|gets)[[:space:]]*\(' $files)
n=$(echo "$files" | wc -l)
if [ -n "$hits" ]; then
	echo "not ok 1 - no banned functions in $n C files"
	echo "$hits" | sed 's/^/#   /'
	echo "1..1"
	exit 1
fi
echo "ok 1 - no banned functions in $n C files"
echo "1..1"
