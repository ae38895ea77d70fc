# Shared by the shell tests (t/nonroot.sh, t/sign.sh, t/lazy.sh): source it with
# T_NAME set.  It sets here, CR, tmp (a fresh directory, removed at exit
# with the process in $pid), and ok/bad/summary for "PASS/FAIL T_NAME.CASE"
# lines and the last line "N passed, N failed"; term_check for a restored
# test program.
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

# SIGTERM the restored test program $pid (output in $tmp/out) and wait
# for it: CASE passes if it said PASS
term_check() {
	kill -TERM "$pid"
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if grep -q '^PASS' "$tmp/out"; then
		ok "$1"
	else
		bad "$1" "the program said: $(tail -1 "$tmp/out")"
	fi
}

summary() {
	echo "$passed passed, $failed failed"
	[ $failed = 0 ]
}
