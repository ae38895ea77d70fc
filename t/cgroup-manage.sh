#!/bin/bash
# cr restore --manage-cgroups: a process in a cgroup v2 of its own is
# dumped, its cgroup removed; restore without the option must fail with one
# line naming the cgroup and leave nothing behind; with it, cr creates the
# cgroup and the process is back in it.  Needs root, gcc and a cgroup2 mount
# (else it says SKIP).
#   CR=path/to/cr bash t/cgroup-manage.sh
# Prints "PASS/FAIL/SKIP cgroup-manage.CASE" lines and "N passed, N failed".

set -u
here=$(cd "$(dirname "$0")" && pwd)
CR=${CR:-$here/../cr}
tmp=$(mktemp -d /tmp/cr-cgroup-manage.XXXXXX)
pid=
cg=
passed=0
failed=0

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$cg" ] && rmdir "$cg/b" "$cg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "PASS cgroup-manage.$1"; passed=$((passed + 1)); }
bad() { echo "FAIL cgroup-manage.$1: $2"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit; }

mnt=$(awk '$9 == "cgroup2" && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
if [ -z "$mnt" ] || [ -z "$own" ]; then
	echo "SKIP cgroup-manage: no cgroup2 mount"
	finish
fi
[ "$own" = / ] && own=
rel="$own/cr-manage-$$"
cg="$mnt$rel"

# Closes every fd but 0-2 (cr refuses pipes to outside), joins the cgroup
# given, says "ready", and sleeps.
cat > "$tmp/prog.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[4096];
	int fd;

	for (fd = 3; fd < 1024; fd++)
		close(fd);
	snprintf(path, sizeof(path), "%s/cgroup.procs", argv[argc - 1]);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0\n", 2) != 2)
		return 1;
	close(fd);
	write(2, "ready\n", 6);
	for (;;)
		pause();
}
EOF
if ! gcc -O1 -o "$tmp/prog" "$tmp/prog.c" || ! mkdir -p "$cg/b"; then
	echo "SKIP cgroup-manage: no gcc or cannot create a cgroup"
	finish
fi
setsid "$tmp/prog" "$cg/b" < /dev/null > /dev/null 2> "$tmp/ready" &
pid=$!
for _ in $(seq 100); do grep -q ready "$tmp/ready" && break; sleep 0.05; done
if ! grep -q "^0::$rel/b\$" /proc/$pid/cgroup; then
	bad setup "the program is not in $rel/b"
	finish
fi
mkdir "$tmp/img"
exec 3>&2 2>/dev/null	# bash's "Killed" notice of the job: expected
if ! "$CR" dump -t "$pid" -D "$tmp/img" 2> "$tmp/dump.err"; then
	bad dump "$(tail -1 "$tmp/dump.err")"
	finish
fi
wait "$pid"	# killed by the dump: its PID is free again
exec 2>&3 3>&-
rmdir "$cg/b" "$cg"

if "$CR" restore -D "$tmp/img" -d 2> "$tmp/r1.err"; then
	bad missing "restore succeeded without the cgroup"
elif [ "$(wc -l < "$tmp/r1.err")" != 1 ] ||
     ! grep -q "cgroup $rel/b does not exist.*--manage-cgroups" "$tmp/r1.err"; then
	bad missing "error is not one line naming the cgroup: $(cat "$tmp/r1.err")"
elif kill -0 "$pid" 2>/dev/null || [ -d "$cg" ]; then
	bad missing "the failed restore left the process or the cgroup behind"
else
	ok missing
fi

if ! "$CR" restore -D "$tmp/img" -d --manage-cgroups 2> "$tmp/r2.err"; then
	bad manage "$(tail -1 "$tmp/r2.err")"
elif ! grep -q "^0::$rel/b\$" /proc/$pid/cgroup; then
	bad manage "restored into $(sed -n 's/^0:://p' /proc/$pid/cgroup), want $rel/b"
else
	ok manage
fi
kill -KILL "$pid" 2>/dev/null
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
pid=
finish
