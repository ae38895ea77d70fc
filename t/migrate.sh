#!/bin/bash
# Live migration between two network namespaces joined by a veth pair (made
# here, private addresses only inside them), the destination in a pid
# namespace of its own: a program that rewrites 1% of a 1 GiB working set
# a second, keeping a checksum of each page it writes (and in the page
# how often it was written, which must add up to its count of writes), is moved with
# `cr migrate` to `cr restore --listen`, and every page matches its
# checksum there.  Before that, what must leave it running here unharmed:
# a destination that refuses the images (--verify: not signed, or signed
# with another key, refused at the first image), one that fails at the
# second image of a process with an established connection (which must go
# on talking at once), a destination killed in the middle (the next
# receiver removes what it left in /dev/shm, not what a running one
# holds), and a page server given a cut stream (it stores nothing); then a pre-dump and dump through the page server
# over IPv6; then it comes back, and goes again with --lazy-pages.  Prints
# the progress of the migration and its frozen time.
#   CR=path/to/cr bash t/migrate.sh        (root, gcc, ip, nsenter, python3)
# MIG_KEEP=1 keeps its scratch directory.
# MIG_MB=N changes the working set (default 1024).  MIG_BENCH=FILE (make
# bench): no failure cases; measures a plain TCP copy over the veth (the
# ceiling), the pre-copy migration there, a one-shot one (--max-iters 0)
# back, then MIG_RUNS (9) lazy pre-copy ones back and forth, and writes
# key=value lines to FILE.
# Prints "PASS/FAIL migrate.CASE" lines and "N passed, N failed".

set -u
here=$(cd "$(dirname "$0")" && pwd)
CR=${CR:-$here/../cr}
case $CR in /*) ;; *) CR=$PWD/$CR ;; esac

# The source side: this script, as init of a pid namespace, in a network
# namespace of its own.
if [ -z "${CR_MIG_NS:-}" ]; then
	exec env CR_MIG_NS=1 CR="$CR" unshare -pf --mount-proc -n bash ${MIG_TRACE:+-x} "$0" "$@"
fi

tmp=$(mktemp -d /tmp/cr-mig.XXXXXX)
pid=
dns=
passed=0
failed=0
MB=${MIG_MB:-1024}

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$dns" ] && kill -KILL "$dns" 2>/dev/null
	[ -n "${MIG_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done

cat > "$tmp/prog.c" <<'PROG'
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WORDS 512			/* a page */

static volatile sig_atomic_t check;
static uint64_t rnd = 88172645463325252ULL;

static void on_usr1(int sig)
{
	(void)sig;
	check = 1;
}

static uint64_t next(void)
{
	rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
	return rnd;
}

static uint64_t sum(const uint64_t *p)
{
	uint64_t h = 0;

	for (int i = 0; i < WORDS; i++)
		h = (h ^ p[i]) * 0x9e3779b97f4a7c15ULL;
	return h;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t npages = strtoull(argv[1], NULL, 0) * 256, written = 0;
	uint64_t *mem = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *sums = calloc(npages, sizeof(*sums));
	struct timespec ts = { 0, 10000000 };
	double t0;
	char line[80];

	(void)argc;
	syscall(SYS_close_range, 3, ~0u, 0);
	signal(SIGUSR1, on_usr1);
	for (uint64_t p = 0; p < npages; p++) {
		for (int i = 1; i < WORDS; i++)
			mem[p * WORDS + i] = next();
		mem[p * WORDS] = 0;	/* how often the page was rewritten */
		sums[p] = sum(mem + p * WORDS);
	}
	fprintf(stderr, "ready\n");
	t0 = now();
	for (;;) {
		/* 1% of the pages a second, in steps of 10 ms */
		uint64_t want = (now() - t0) * npages / 100;

		for (; written < want; written++) {
			uint64_t p = next() % npages;

			for (int i = 1; i < WORDS; i++)
				mem[p * WORDS + i] = next();
			mem[p * WORDS]++;
			sums[p] = sum(mem + p * WORDS);
		}
		if (check) {
			uint64_t bad = 0, total = 0;

			check = 0;
			for (uint64_t p = 0; p < npages; p++) {
				bad += sums[p] != sum(mem + p * WORDS);
				total += mem[p * WORDS];
			}
			/* a page left older than the counter: a lost write */
			bad += total != written;
			snprintf(line, sizeof(line), "%s %llu %llu\n",
				 bad ? "bad" : "ok", (unsigned long long)bad,
				 (unsigned long long)written);
			if (write(2, line, strlen(line)) < 0)
				return 3;
		}
		nanosleep(&ts, NULL);
	}
}
PROG
gcc -O2 -o "$tmp/prog" "$tmp/prog.c" || exit 1

pass() { echo "PASS migrate.$1"; passed=$((passed + 1)); }
fail() { echo "FAIL migrate.$1: $2"; failed=$((failed + 1)); }

# The destination: a network, pid and mount namespace; dst CMD runs there.
unshare -n -pf --mount-proc bash -c 'while :; do sleep 1; done' &	# init reaps
dns=$!
dpid=
for i in $(seq 100); do
	read -r dpid < /proc/$dns/task/$dns/children
	[ -n "$dpid" ] && break
	sleep 0.02
done
dst() { nsenter -t "$dpid" -n -p -m "$@"; }
ip link set lo up
ip link add mig-src type veth peer name mig-dst netns "$dpid" || exit 1
ip addr add 10.231.0.1/24 dev mig-src
ip -6 addr add fd31::1/64 dev mig-src nodad
ip link set mig-src up
dst ip addr add 10.231.0.2/24 dev mig-dst
dst ip -6 addr add fd31::2/64 dev mig-dst nodad
dst ip link set mig-dst up
dst ip link set lo up
dst mount -t tmpfs tmpfs /dev/shm	# what a killed receiver leaves stays here

# Start a cr in the destination in the background; $dcr: its pid here.
dst_bg() {
	local i n
	dst "$@" &
	n=$!
	dbg=$n
	dcr=
	for i in $(seq 100); do
		read -r dcr < /proc/$n/task/$n/children
		[ -n "$dcr" ] && break
		sleep 0.02
	done
}
# Wait until the destination listens on port $1.
dst_listening() {
	local i
	for i in $(seq 200); do
		dst ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.02
	done
	return 1
}

# Ask the program to check its memory; print its newest verdict.
nchecks=0
checked() {
	local i
	nchecks=$((nchecks + 1))
	${2:-} kill -USR1 "$1"
	for i in $(seq 300); do
		[ "$(grep -cE '^(ok|bad) ' "$tmp/log")" -ge $nchecks ] && break
		sleep 0.05
	done
	grep -E '^(ok|bad) ' "$tmp/log" | tail -1
}
healthy() {	# CASE: the source runs, untracked, its memory intact
	if ! kill -0 "$pid" 2>/dev/null; then
		fail "$1" "the source process is gone"
	elif ls -l /proc/$pid/fd | grep -q userfaultfd; then
		fail "$1" "a memory tracker was left in it"
	else
		case $(checked "$pid") in
		ok*) pass "$1" ;;
		*) fail "$1" "after the failure: $(tail -1 "$tmp/log")" ;;
		esac
	fi
}

cd "$tmp"
echo 30000 > /proc/sys/kernel/ns_last_pid	# a pid free in the destination
setsid ./prog "$MB" < /dev/null > /dev/null 2> log &
pid=$!
for i in $(seq 600); do grep -q ready log && break; sleep 0.05; done
head -c 32 /dev/urandom > key
# The ceiling: MB/s of a plain TCP copy of the working set over the veth.
bench_ceiling() {
	local t0 t1
	dst_bg python3 -c 'import socket
s = socket.create_server(("10.231.0.2", 7779)); c, _ = s.accept()
while c.recv(1 << 20): pass'
	dst_listening 7779
	t0=$(date +%s%N)
	python3 -c 'import socket, sys
s = socket.create_connection(("10.231.0.2", 7779)); b = bytes(1 << 20)
for i in range(int(sys.argv[1])): s.sendall(b)' "$MB"
	wait $dbg
	t1=$(date +%s%N)
	echo "migrate.tcp_copy_mbps=$(( MB * 1048576 * 1000 / (t1 - t0) ))" >> "$MIG_BENCH"
}
# The figures of a migrate's stderr ($1) as key=value lines, prefix $2.
bench_figures() {
	sed -n 's/.*pre-dump 1: \([0-9.]*\) MB sent in \([0-9]*\) ms.*/\1 \2/p' "$1" |
		awk -v p="$2" '{ printf "%s.first_copy_mbps=%.0f\n", p, $1 / $2 * 1000 }'
	echo "$2.rounds=$(grep -c 'pre-dump [0-9]' "$1")"
	sed -n 's/.*frozen \([0-9.]*\) ms until it runs there (\([0-9.]*\) ms.*/\1 \2/p' "$1" |
		awk -v p="$2" '{ printf "%s.frozen_ms=%s\n%s.frozen_source_ms=%s\n", p, $1, p, $2 }'
	sed -n 's/.*; \([0-9.]*\) ms to restore there.*/\1/p' "$1" |
		awk -v p="$2" '{ printf "%s.restore_there_ms=%s\n", p, $1 }'
}
if [ -n "${MIG_BENCH:-}" ]; then
	bench_ceiling
	# pre-copy there, one-shot back, then pre-copy there with a lazy
	# restore (when this cr has --lazy-pages)
	dst_bg "$CR" restore --listen 7777 -d
	dst_listening 7777
	"$CR" migrate -v -t "$pid" --to 10.231.0.2:7777 2> err || { cat err; exit 1; }
	wait $dbg
	bench_figures err migrate.precopy >> "$MIG_BENCH"
	"$CR" restore --listen 7777 -d --address 10.231.0.1 &
	dbg=$!
	sleep 0.3
	dst "$CR" migrate -v --max-iters 0 -t "$pid" --to 10.231.0.1:7777 2> err || { cat err; exit 1; }
	wait $dbg
	bench_figures err migrate.oneshot >> "$MIG_BENCH"
	case $(checked "$pid") in
	ok*) echo "migrate.checked=ok" >> "$MIG_BENCH" ;;
	*) echo "migrate.checked=bad" >> "$MIG_BENCH"; exit 1 ;;
	esac
	if "$CR" restore --help | grep -q lazy-pages; then
		dst_bg "$CR" restore --listen 7777 -d --lazy-pages
		dst_listening 7777
		"$CR" migrate -v -t "$pid" --to 10.231.0.2:7777 2> err || { cat err; exit 1; }
		wait $dbg
		bench_figures err migrate.precopy_lazy >> "$MIG_BENCH"
		case $(checked "$pid" dst) in
		ok*) echo "migrate.checked_lazy=ok" >> "$MIG_BENCH" ;;
		*) echo "migrate.checked_lazy=bad" >> "$MIG_BENCH"; exit 1 ;;
		esac
		# MIG_RUNS (default 9) lazy pre-copy migrations in all, back
		# and forth, each once the last one's pages are all in (no
		# mapping registered with the page server's userfaultfd): the
		# frozen time of each, their median and maximum
		here=dst
		frozen=$(sed -n 's/.*frozen \([0-9.]*\) ms until it runs there.*/\1/p' err)
		for i in $(seq 2 "${MIG_RUNS:-9}"); do
			for k in $(seq 200); do	# the page server let go
				${here/src/} grep -q '^VmFlags:.* um' /proc/$pid/smaps || break
				sleep 0.05
			done
			if [ $here = dst ]; then
				"$CR" restore --listen 7777 -d --lazy-pages --address 10.231.0.1 &
				dbg=$!
				sleep 0.3
				dst "$CR" migrate -v -t "$pid" --to 10.231.0.1:7777 2> err || { cat err; exit 1; }
				here=src
			else
				dst_bg "$CR" restore --listen 7777 -d --lazy-pages
				dst_listening 7777
				"$CR" migrate -v -t "$pid" --to 10.231.0.2:7777 2> err || { cat err; exit 1; }
				here=dst
			fi
			wait $dbg
			frozen="$frozen $(sed -n 's/.*frozen \([0-9.]*\) ms until it runs there.*/\1/p' err)"
		done
		case $(checked "$pid" ${here/src/}) in
		ok*) ;;
		*) echo "migrate.checked_lazy=bad" >> "$MIG_BENCH"; exit 1 ;;
		esac
		echo "migrate.precopy_lazy.frozen_ms_runs=$frozen" >> "$MIG_BENCH"
		echo $frozen | tr ' ' '\n' | sort -n | awk -v p=migrate.precopy_lazy '
			{ v[NR] = $1 }
			END { printf "%s.frozen_ms_median=%s\n%s.frozen_ms_max=%s\n%s.runs_under_50ms=%d/%d\n",
				     p, v[int((NR + 1) / 2)], p, v[NR], p, under(v, NR), NR }
			function under(v, n,   k, c) { for (k = 1; k <= n; k++) c += v[k] < 50; return c }' >> "$MIG_BENCH"
	fi
	cat "$MIG_BENCH"
	exit 0
fi

# 1. The destination refuses the chain (restore --listen --verify): a
# small process (hashing 1 GiB for the MAC is slow on a loaded machine),
# unsigned, then signed with another key; it goes on, untracked, and its
# memory checks out.
setsid ./prog 4 < /dev/null > /dev/null 2> log4 &
small=$!
for i in $(seq 100); do grep -q ready log4 && break; sleep 0.05; done
head -c 32 /dev/urandom > other
n4=0
for sign in "" "$tmp/other"; do
	case=refused${sign:+-key}
	want=${sign:+1/cr.img: the image.s MAC does not match}
	dst_bg "$CR" restore --listen 7777 -d --verify "$tmp/key"
	dst_listening 7777
	if "$CR" migrate -t "$small" --to 10.231.0.2:7777 ${sign:+--sign "$sign"} 2> err; then
		fail $case "migrate succeeded: $(cat err)"
	elif ! grep -q "refused the image.*${want:-not signed}" err; then
		fail $case "$(cat err)"
	elif ! kill -0 "$small" 2>/dev/null ||
	     ls -l /proc/$small/fd | grep -q userfaultfd; then
		fail $case "the process is gone or still tracked"
	else
		n4=$((n4 + 1))
		kill -USR1 "$small"
		for i in $(seq 100); do
			[ "$(grep -c '^ok ' log4)" -ge $n4 ] && break
			sleep 0.05
		done
		[ "$(grep -c '^ok ' log4)" -ge $n4 ] && pass $case ||
			fail $case "after the failure: $(tail -1 log4)"
	fi
	wait $dbg
done
kill -KILL "$small"

# 1b. A process with an established connection (bash's /dev/tcp, to an
# echo server outside the tree) whose migration fails at the second image,
# after the first pre-dump left its memory tracker in it: migrate's
# clean-up dump -R removes the tracker, and must give the connection back,
# so that the echoes go on at once (a connection left locked would be
# silent until bash's read times out).  Its fd is shared with the sleep
# that bash runs (one socket in two processes).
python3 -c '
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 7790)); l.listen(1); c, _ = l.accept()
while True:
    d = c.recv(4096)
    if not d: break
    c.sendall(d)' &
echo_srv=$!
for i in $(seq 100); do ss -Hltn "sport = :7790" | grep -q . && break; sleep 0.02; done
setsid bash -c 'exec 3<>/dev/tcp/127.0.0.1/7790 || exit 1; n=0
	while :; do echo "ping $n" >&3; read -t 5 -r l <&3 || { echo "no echo"; exit 1; }
	echo "ok $n"; n=$((n + 1)); sleep 0.05; done' < /dev/null > logt 2>&1 &
tcpc=$!
for i in $(seq 100); do grep -q '^ok' logt && break; sleep 0.05; done
dst_bg env CR_FAULT=xfer-image-2 "$CR" restore --listen 7779 -d
dst_listening 7779
if "$CR" migrate -v --tcp-established -t "$tcpc" --to 10.231.0.2:7779 2> errt; then
	fail refused-tcp "migrate succeeded: $(cat errt)"
elif ! grep -q "refused the image: .*xfer-image-2" errt ||
     ! grep -q "cr: dump: image written" errt; then
	fail refused-tcp "no clean-up dump after the failure: $(cat errt)"
else
	n=$(grep -c '^ok' logt)
	for i in $(seq 60); do
		[ "$(grep -c '^ok' logt)" -ge $((n + 10)) ] && break
		sleep 0.05
	done
	if ! kill -0 "$tcpc" 2>/dev/null; then
		fail refused-tcp "the process is gone: $(tail -1 logt)"
	elif [ "$(grep -c '^ok' logt)" -lt $((n + 10)) ]; then
		fail refused-tcp "its connection is silent after the failure: $(tail -1 logt)"
	else
		pass refused-tcp
	fi
fi
wait $dbg
kill -KILL "$tcpc" "$echo_srv" 2>/dev/null

# 2. The destination dies in the middle of the first copy.
dst_bg env CR_FAULT=xfer-recv:kill "$CR" restore --listen 7777 -d
dst_listening 7777
if "$CR" migrate -t "$pid" --to 10.231.0.2:7777 2> err; then
	fail dest-killed "migrate succeeded: $(cat err)"
else
	healthy dest-killed
fi
wait $dbg

# 2b. What a killed receiver left in /dev/shm (its images, in memory) goes
# when the next receiver starts, but not the directory of one still
# running: two listen, both are killed, and a third leaves only its own.
shm() { dst sh -c 'ls -d /dev/shm/cr-listen.* 2>/dev/null'; }
left=$(shm)
dst_bg "$CR" restore --listen 7780
dst_listening 7780
dst_bg "$CR" restore --listen 7781
dst_listening 7781
two=$(shm)
pkill -KILL -f -- '--listen 778[01]$'	# cr (and nsenter, its parent)
for i in $(seq 100); do pgrep -f -- '--listen 778[01]$' >/dev/null || break; sleep 0.02; done
dst_bg "$CR" restore --listen 7782
dst_listening 7782
now=$(shm)
pkill -KILL -f -- '--listen 7782$'
if [ -z "$left" ]; then
	fail shm-swept "the killed receiver of case 2 left nothing in /dev/shm"
elif [ "$(echo "$two" | wc -l)" != 2 ] || echo "$two" | grep -qxF "$left"; then
	fail shm-swept "with two receivers running: $(echo $two), was $left"
elif [ "$(echo "$now" | wc -l)" != 1 ] || echo "$two" | grep -qxF "$now"; then
	fail shm-swept "after two were killed, a third left: $(echo $now)"
else
	pass shm-swept
fi

# 3. A page server given a stream cut before its end stores nothing.
mkdir ps
dst_bg "$CR" page-server --port 7778 -D "$tmp/ps"
ps=$dcr
dst_listening 7778
if CR_FAULT=dump-stream "$CR" dump -R -t "$pid" --page-server '[fd31::2]:7778' 2> err; then
	fail cut-stream "the dump succeeded"
elif find ps -name cr.img | grep -q .; then
	fail cut-stream "stored: $(find ps -name cr.img)"
else
	healthy cut-stream
fi

# 4. A chain through the page server (IPv6): it exits after the dump.
mkdir n1 n2
if ! "$CR" pre-dump -t "$pid" --page-server '[fd31::2]:7778' -D n1 2> err ||
   ! "$CR" dump -R -t "$pid" --page-server 'fd31::2:7778' -D n2 \
	--prev-images-dir ../n1 2> err; then
	fail page-server "$(cat err)"
elif ! "$CR" show ps/2 | grep -q 'PARENT "../1/cr.img"'; then
	fail page-server "ps/2 is not the dump of the chain"
else
	for i in $(seq 100); do kill -0 "$ps" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$ps" 2>/dev/null; then
		fail page-server "the page server did not exit after the dump"
	else
		healthy page-server
	fi
fi
wait $dbg

# 5. The migration.
dst_bg "$CR" restore --listen 7777 -d --pidfile "$tmp/dpid"
dst_listening 7777
if ! "$CR" migrate -v -t "$pid" --to 10.231.0.2:7777 2> err; then
	fail migrate "$(cat err)"
else
	grep -E 'pre-dump [0-9]|final dump' err | sed 's/^cr: migrate: /  /'
	if kill -0 "$pid" 2>/dev/null; then
		fail migrate "the source process is still here"
	elif [ "$(cat dpid 2>/dev/null)" != "$pid" ]; then
		fail migrate "restored as pid $(cat dpid 2>/dev/null), not $pid"
	elif dst ls -l /proc/$pid/fd | grep -q 'userfaultfd\|socket\|cr-listen'; then
		fail migrate "it has cr's descriptors: $(dst ls -l /proc/$pid/fd)"
	else
		case $(checked "$pid" dst) in
		ok*) pass migrate ;;
		*) fail migrate "$(tail -1 log)" ;;
		esac
	fi
fi

# 6. Back here (one-shot), then there again with --lazy-pages: it runs
# there before its memory is in, which the page server fills behind it.
if dst kill -0 "$pid" 2>/dev/null; then
	"$CR" restore --listen 7777 -d --address 10.231.0.1 2> err2 &
	dbg=$!
	for i in $(seq 100); do ss -Hltn "sport = :7777" | grep -q . && break; sleep 0.02; done
	if ! dst "$CR" migrate --max-iters 0 -t "$pid" --to 10.231.0.1:7777 2> err ||
	   ! wait $dbg; then
		fail migrate-back "$(cat err err2)"
	else
		dst_bg "$CR" restore --listen 7777 -d
		dst_listening 7777
		if ! "$CR" migrate -v --lazy-pages -t "$pid" --to 10.231.0.2:7777 2> err; then
			fail migrate-lazy "$(cat err)"
		else
			grep 'final dump' err | sed 's/^cr: dump: /  --lazy-pages: /'
			case $(checked "$pid" dst) in
			ok*) pass migrate-lazy ;;
			*) fail migrate-lazy "$(tail -1 log)" ;;
			esac
		fi
		wait $dbg
	fi
fi
dst kill -KILL "$pid" 2>/dev/null
pid=
echo "$passed passed, $failed failed"
[ $failed = 0 ]
