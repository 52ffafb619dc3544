# shellcheck shell=bash
# The assertions of the shell suites (install.sh, private_checkout.sh),
# sourced by each: check counts, checks_end says and exits.
#   source "$repo/tests/integration/checks.sh"
passed=0
failed=0

check() { # check WHAT CMD...: one assertion
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok - $what"
    else
        failed=$((failed + 1))
        echo "not ok - $what"
    fi
}

mode_is() { # mode_is OCTAL PATH
    local got
    got=$(stat -c '%a' "$2" 2>/dev/null)
    [ "$got" = "$1" ] || { echo "    $2 has mode ${got:-?}, expected $1"; return 1; }
}

checks_end() { # checks_end SUITE: "SUITE: N passed, M failed"; 0 when none failed
    echo "$1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
