# Shared by the shell tests (t/nonroot.sh, t/sign.sh, t/lazy.sh): source it with
# T_NAME set.  It sets here, CR, tmp (a fresh directory, removed at exit
# with the process in $pid), and ok/bad/summary for "PASS/FAIL T_NAME.CASE"
# lines and the last line "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
CR=${CR:-$here/../cr}
case $CR in /*) ;; *) CR=$PWD/$CR ;; esac	# the tests cd into $tmp
tmp=$(mktemp -d "/tmp/cr-$T_NAME.XXXXXX")
passed=0
failed=0
pid=

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "PASS $T_NAME.$1"; passed=$((passed + 1)); }
bad() { echo "FAIL $T_NAME.$1: $2"; failed=$((failed + 1)); }

summary() {
	echo "$passed passed, $failed failed"
	[ $failed = 0 ]
}
