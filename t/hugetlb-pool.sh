#!/bin/bash
# A restore that needs more free huge pages than the pool has stops before
# it creates anything, with one line naming the page size and the
# nr_hugepages file to raise; with the pages back, the same image restores
# and the process finishes its own checks (t/bin/mm-hugetlb.musl).
#   CR=path/to/cr bash t/hugetlb-pool.sh
# Needs root (it resizes the 2 MiB pool, and puts its size back at the end).
# Prints "PASS/FAIL hugetlb-pool.CASE" lines and "N passed, N failed"; if
# no 2 MiB page can be reserved, SKIP, loudly, and nothing is tested.

T_NAME=hugetlb-pool
. "$(dirname "$0")/shlib.sh"

nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if ! [ -w "$nr" ]; then
	echo "SKIP $T_NAME: no $nr: hugetlb NOT TESTED"
	exit 0
fi
before=$(cat "$nr")
trap 'echo "$before" >"$nr"; cleanup' EXIT

cd "$tmp" || exit 1
mkdir img
# with fds 3 and up closed (one of them could be a pipe out of the tree)
setsid -f bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; echo $$ >pid; exec "$0"' \
	"$here/bin/mm-hugetlb.musl" </dev/null >"$tmp/out" 2>&1
for i in $(seq 50); do grep -q "ready\|SKIP" "$tmp/out" && break; sleep 0.1; done
if grep -q SKIP "$tmp/out"; then
	echo "SKIP $T_NAME: $(cat "$tmp/out")"
	exit 0
fi
pid=$(cat pid)
[ -n "$pid" ] || { bad start "the target did not start: $(cat "$tmp/out")"; exit 1; }
if ! "$CR" dump -t "$pid" -D img 2>"$tmp/err"; then
	bad dump "$(cat "$tmp/err")"
	exit 1
fi
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done

# 1. the pool emptied (its file's pages stay in use): refused, nothing made
echo 0 >"$nr"
"$CR" restore -D img -d 2>"$tmp/err"
st=$?
if [ $st != 1 ]; then
	bad pool-empty "cr restore: exit $st: $(head -c 300 "$tmp/err")"
elif [ "$(wc -l <"$tmp/err")" != 1 ] ||
     ! grep -q "huge pages of 2048 kB, 0 are free (raise $nr)" "$tmp/err"; then
	bad pool-empty "want one line naming the pool, got: $(head -c 300 "$tmp/err")"
elif kill -0 "$pid" 2>/dev/null; then
	bad pool-empty "pid $pid exists"
else
	ok pool-empty
fi

# 2. the pages back: restored, and the process checks its memory
echo $((before + 16)) >"$nr"
if ! "$CR" restore -D img -d 2>"$tmp/err"; then
	bad restore "$(cat "$tmp/err")"
else
	term_check restore
fi
pid=
summary
