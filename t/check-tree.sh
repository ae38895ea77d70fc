#!/bin/bash
# cr check -t PID on live processes: a program holding an io_uring, a perf
# event, a pipe to outside and a file lock gets exit status 1 and one line
# per problem; a clean one gets 0 and "no problems".  Both hold an armed
# timerfd: the kernel features restore needs name timerfd-ticks.  Either
# way the program must run on, not stopped, not traced.  Needs root and gcc.
#   CR=path/to/cr bash t/check-tree.sh
# Prints "PASS/FAIL check-tree.CASE" lines and "N passed, N failed".

set -u
here=$(cd "$(dirname "$0")" && pwd)
CR=${CR:-$here/../cr}
tmp=$(mktemp -d /tmp/cr-check-tree.XXXXXX)
pid=
kid=
passed=0
failed=0

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" $kid 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The program, a parent and its child: "dirty" opens an io_uring and a perf event
# (its stdout is a pipe to a cat outside); "clean" holds
# nothing cr refuses.  It says "ready PID CHILD" on stderr, and "alive"
# there for each SIGUSR1 (the parent passes it on to the child).
cat > "$tmp/prog.c" <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

static pid_t child;

static void alive(int sig)
{
	(void)sig;
	if (write(2, "alive\n", 6) != 6)
		_exit(3);
	if (child)
		kill(child, SIGUSR1);
}

int main(int argc, char **argv)
{
	struct itimerspec its = { 0 };
	char buf[64];
	int fd;

	syscall(SYS_close_range, 3, ~0u, 0);	/* nothing of the shell's */
	setsid();
	signal(SIGUSR1, alive);
	child = fork();		/* holds nothing: stdout to /dev/null */
	if (child < 0)
		return 2;
	if (!child) {
		if (!freopen("/dev/null", "w", stdout))
			return 2;
		for (;;)
			pause();
	}
	its.it_value.tv_sec = its.it_interval.tv_sec = 1;
	fd = timerfd_create(CLOCK_MONOTONIC, 0);
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL))
		return 2;
	if (argc > 1 && !strcmp(argv[1], "dirty")) {
		struct io_uring_params up = { 0 };
		struct perf_event_attr pa = { .type = PERF_TYPE_SOFTWARE,
			.size = sizeof(pa), .config = PERF_COUNT_SW_CPU_CLOCK,
			.exclude_kernel = 1 };

		fd = open(argv[2], O_RDWR | O_CREAT, 0600);
		if (fd < 0 || flock(fd, LOCK_EX) ||
		    syscall(SYS_io_uring_setup, 4, &up) < 0 ||
		    syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0) < 0) {
			perror("setting up");
			return 2;
		}
	}
	snprintf(buf, sizeof(buf), "ready %d %d\n", (int)getpid(),
		 (int)child);
	if (write(2, buf, strlen(buf)) < 0)
		return 2;
	for (;;)
		pause();
}
EOF

fail() {
	echo "FAIL check-tree.$1: $2"
	failed=$((failed + 1))
	[ -n "$pid" ] && kill -KILL "$pid" $kid 2>/dev/null
	pid=
	kid=
}

# Wait up to 5 s for ${3:-1} lines matching $2 in file $1.
await() {
	local i

	for i in $(seq 100); do
		[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ] && return 0
		sleep 0.05
	done
	return 1
}

# Both processes must still be there, running, untraced, and answer.
still_fine() {
	local p st tracer

	for p in $pid $kid; do
		st=$(awk '/^State:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$p/status" \
			 2>/dev/null)
		case "$st" in
		S|R) ;;
		*) echo "pid $p is in state '$st' after the check"; return 1 ;;
		esac
		if [ "$tracer" != 0 ]; then
			echo "pid $p is traced by $tracer after the check"
			return 1
		fi
	done
	kill -USR1 "$pid" || return 1
	for p in 1 2; do
		if ! await "$tmp/$1.err" "^alive\$" $p; then
			echo "the program does not answer SIGUSR1 after the check"
			return 1
		fi
	done
	return 0
}

# run_case NAME: start the program, check it, look at the answer.
run_case() {
	local name=$1 out rc why n

	: > "$tmp/$name.err"
	if [ "$name" = dirty ]; then
		"$tmp/prog" dirty "$tmp/locked" < /dev/null 2>> "$tmp/$name.err" |
			cat > /dev/null &
	else
		"$tmp/prog" clean < /dev/null > /dev/null \
			2>> "$tmp/$name.err" &
	fi
	disown -a	# no job reports when it is killed
	if ! await "$tmp/$name.err" '^ready '; then
		fail "$name" "the program did not start: $(cat "$tmp/$name.err")"
		return
	fi
	pid=$(awk '/^ready/ { print $2 }' "$tmp/$name.err")
	kid=$(awk '/^ready/ { print $3 }' "$tmp/$name.err")
	out=$("$CR" check -t "$pid" 2>&1)
	rc=$?
	if [ "$name" = dirty ]; then
		n=$(grep -c "^cr: check: pid $pid: " <<< "$out")
		if [ $rc != 1 ]; then
			why="exit status $rc, want 1"
		elif [ "$n" != 4 ]; then
			why="$n problem lines naming pid $pid, want 4"
		elif grep -q "^cr: check: pid $kid: " <<< "$out"; then
			why="a problem of the child, which has none"
		elif [ "$(grep "^cr: check: " <<< "$out" | grep -c io_uring)" != 1 ] ||
		     [ "$(grep "^cr: check: " <<< "$out" |
			  grep -c perf_event)" != 1 ] ||
		     [ "$(grep "^cr: check: " <<< "$out" | grep -c pipe)" != 1 ] ||
		     [ "$(grep "^cr: check: " <<< "$out" |
			  grep -c -- "--file-locks")" != 1 ]
		then
			why="not one line each for io_uring, perf_event, pipe, lock"
		elif ! grep -q "4 problems" <<< "$out"; then
			why="no \"4 problems\""
		fi
	else
		if [ $rc != 0 ]; then
			why="exit status $rc, want 0"
		elif ! grep -q "no problems" <<< "$out"; then
			why="no \"no problems\""
		elif grep -q "^cr: check: pid" <<< "$out"; then
			why="a problem is listed"
		fi
	fi
	if [ -z "${why:-}" ] &&
	   ! grep -q "^restore needs: .*timerfd-ticks (ok)" <<< "$out"; then
		why="restore needs no timerfd-ticks"
	fi
	if [ -z "${why:-}" ] && ! why=$(still_fine "$name"); then
		[ -n "$why" ] || why="the program is gone"
	fi
	if [ -n "${why:-}" ]; then
		fail "$name" "$why: $(tr '\n' '|' <<< "$out")"
		return
	fi
	kill -KILL "$pid" "$kid"
	pid=
	kid=
	echo "PASS check-tree.$name"
	passed=$((passed + 1))
}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP check-tree: needs root"
	exit 0
fi
if [ ! -x "$CR" ]; then
	echo "FAIL check-tree: no cr at $CR (set CR=)"
	exit 1
fi
if ! gcc -O1 -Wall -Werror -o "$tmp/prog" "$tmp/prog.c"; then
	echo "FAIL check-tree: cannot build the program"
	exit 1
fi
run_case dirty
run_case clean
echo "$passed passed, $failed failed"
[ $failed = 0 ]
