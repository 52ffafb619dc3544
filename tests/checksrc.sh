#!/bin/sh
# checksrc (curl's idea): the C sources never call a function that has no
# bound on what it writes, no error report, or no thread safety. Each banned
# name is one check; a finding prints file:line and fails it.
#   strcpy sprintf vsprintf strcat gets: unbounded writes (use snprintf, buf.h)
#   atoi atol atoll: no error report (use strtol/strtoull and check, or the
#     config table's parsers)
#   strtok localtime gmtime: shared static state (use the _r variants)
# Ends with "checksrc: N passed, M failed".
top=${srcdir:-$(dirname "$0")/..}
files=$(find "$top/src" "$top/sandbox" "$top/tests" -name '*.[ch]' 2>/dev/null | sort)
passed=0
failed=0
for fn in strcpy sprintf vsprintf strcat gets atoi atol atoll strtok localtime gmtime; do
    # Comments and strings are no calls: strip them crudely before matching.
    hits=$(for f in $files; do
        sed -e 's|//.*$||' -e 's|"[^"]*"|""|g' "$f" | grep -nE "(^|[^A-Za-z0-9_])$fn[[:space:]]*\(" |
            sed "s|^|$f:|"
    done)
    if [ -n "$hits" ]; then
        failed=$((failed + 1))
        echo "not ok - no $fn():"
        echo "$hits" | sed 's/^/    /'
    else
        passed=$((passed + 1))
        echo "ok - no $fn()"
    fi
done
echo "checksrc: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
