# tests/cli/lib/cluster.sh - shared set-up of the shell tests that run real
# daemons (sourced, not run; tests/cli/*.sh are the tests).
#   xt_cluster_setup TAG XTRADE SRC   sets XT, SRC, BIN, TMP (a fresh temp dir),
#                                     UP (a `cluster up` pid to kill on exit),
#                                     FAILS; checks that the daemons are built
#   fail MSG...                       counts a failure
#   wait_for FILE PATTERN SECONDS [COUNT]
#                                     until FILE has COUNT (1) lines matching
#                                     PATTERN; otherwise a failure with the
#                                     file's last 20 lines
# ASan builds: a leak report must not turn a daemon's clean exit into status 1.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=0"

xt_cluster_cleanup() {
    [ -n "$UP" ] && kill -9 "$UP" 2>/dev/null
    # Children die with their parent (PR_SET_PDEATHSIG); wait a moment for them.
    sleep 0.2
    [ -n "${XT_KEEP_TMP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}

xt_cluster_setup() {
    XT="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
    SRC="$(cd "$3" && pwd)"
    BIN="$(dirname "$XT")"
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/xt-$1-XXXXXX")"
    UP=""
    FAILS=0
    trap xt_cluster_cleanup EXIT
    for b in xtrade-broker xtrade-learner xtrade-actor; do
        [ -x "$BIN/$b" ] || { echo "FAIL: $BIN/$b not built" >&2; exit 1; }
    done
}

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

wait_for() {
    local n=$(($3 * 20)) want=${4:-1}
    for _ in $(seq "$n"); do
        [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$want" ] && return 0
        sleep 0.05
    done
    fail "timed out waiting for \"$2\" (x$want) in $1"
    tail -20 "$1" >&2
    return 1
}
