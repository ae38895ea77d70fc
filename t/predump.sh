#!/bin/bash
# Pre-copy chains: a program that keeps rewriting pages of 64 MiB (and keeps
# a generation number per page) is pre-dumped five times while it runs, then
# dumped with --prev-images-dir; the dump holds only what changed, and the
# restore, which takes the other pages from the five pre-dumps, gives back a
# memory where every page matches its generation.  Also: the program stays
# healthy while tracked, a pre-dump alone and a chain with a wrong parent
# are refused before anything is created.  Needs root and gcc.
#   CR=path/to/cr bash t/predump.sh
# Prints "PASS/FAIL predump.CASE" lines and "N passed, N failed".
# The pre-dumps are signed with one key and the dump with another: restore
# --verify must check the whole chain.  Last, the chain is restored again
# with --lazy-pages, and a chain of seven pre-dumps and a dump too.

set -u
here=$(cd "$(dirname "$0")" && pwd)
CR=${CR:-$here/../cr}
case $CR in /*) ;; *) CR=$PWD/$CR ;; esac

# Run as init of a private pid namespace: the dumped pid is then free
# again as soon as it dies, for the restore.
if [ "$$" != 1 ] && [ -z "${CR_PREDUMP_NS:-}" ]; then
	exec env CR_PREDUMP_NS=1 CR="$CR" unshare -pf --mount-proc bash "$0" "$@"
fi

tmp=$(mktemp -d /tmp/cr-predump.XXXXXX)
pid=
passed=0
failed=0

cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

cat > "$tmp/prog.c" <<'EOF'
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

#define NPAGES 16384			/* 64 MiB */
#define WORDS (4096 / 8)

static volatile sig_atomic_t check;

static void on_usr1(int sig)
{
	(void)sig;
	check = 1;
}

static void fill(uint64_t *p, uint64_t page, uint32_t gen)
{
	for (int i = 0; i < WORDS; i++)
		p[i] = page << 40 ^ (uint64_t)gen << 8 ^ i;
}

int main(void)
{
	uint64_t *mem = mmap(NULL, NPAGES * 4096UL, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *gen = calloc(NPAGES, sizeof(*gen));
	struct timespec ts = { 0, 5000000 };
	uint64_t rnd = 88172645463325252ULL, rounds = 0;
	char line[80];

	syscall(SYS_close_range, 3, ~0u, 0);
	setsid();
	signal(SIGUSR1, on_usr1);
	for (uint64_t p = 0; p < NPAGES; p++)
		fill(mem + p * WORDS, p, 0);
	fprintf(stderr, "ready\n");
	for (;;) {
		for (int k = 0; k < 4; k++) {	/* ~800 pages a second */
			uint64_t p;

			rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
			p = rnd % NPAGES;
			fill(mem + p * WORDS, p, gen[p] + 1);
			gen[p]++;
		}
		rounds++;
		if (check) {
			int bad = 0;

			check = 0;
			for (uint64_t p = 0; p < NPAGES; p++)
				for (int i = 0; i < WORDS; i++)
					if (mem[p * WORDS + i] !=
					    (p << 40 ^ (uint64_t)gen[p] << 8 ^ i))
						bad++;
			snprintf(line, sizeof(line), "%s %d %llu\n",
				 bad ? "bad" : "ok", bad,
				 (unsigned long long)rounds);
			if (write(2, line, strlen(line)) < 0)
				return 3;
		}
		nanosleep(&ts, NULL);
	}
}
EOF
gcc -O2 -o "$tmp/prog" "$tmp/prog.c" || exit 1

pass() { echo "PASS predump.$1"; passed=$((passed + 1)); }
fail() { echo "FAIL predump.$1: $2"; failed=$((failed + 1)); }

# Wait until the log has N "ok"/"bad" lines; print the last one.
checked() {
	local n=$1 i
	for i in $(seq 100); do
		[ "$(grep -cE '^(ok|bad) ' "$tmp/log")" -ge "$n" ] && break
		sleep 0.05
	done
	grep -E '^(ok|bad) ' "$tmp/log" | tail -1
}

cd "$tmp"
./prog < /dev/null > /dev/null 2> log &
pid=$!
for i in $(seq 100); do grep -qs ready log && break; sleep 0.05; done

head -c 32 /dev/urandom > key
head -c 32 /dev/urandom > other
ok=true
for i in 1 2 3 4 5; do
	mkdir d$i
	prev=
	[ $i -gt 1 ] && prev="--prev-images-dir ../d$((i - 1))"
	if ! "$CR" pre-dump -t $pid -D d$i $prev --sign other 2> err; then
		fail pre-dump-$i "$(cat err)"
		ok=false
		break
	fi
	sleep 0.2
done
$ok && pass pre-dumps

kill -USR1 $pid
case $(checked 1) in
ok*) pass runs-while-tracked ;;
*) fail runs-while-tracked "$(tail -2 log)" ;;
esac
n=$(ls -l /proc/$pid/fd | grep -c userfaultfd)
[ "$n" = 1 ] && pass one-tracker-fd || fail one-tracker-fd "$n userfaultfd fds"

mkdir d6
if "$CR" dump -v -t $pid -D d6 --prev-images-dir ../d5 --sign key 2> err; then
	pass dump
else
	fail dump "$(cat err)"
fi
logsz=$(stat -c %s log)
s1=$(stat -c %s d1/cr.img)
s6=$(stat -c %s d6/cr.img)
[ $((s6 * 2)) -lt "$s1" ] && pass incremental ||
	fail incremental "dump $s6 bytes, first pre-dump $s1: $(grep -h 'left to' err)"

# Refusals, before anything is created.
if "$CR" restore -D d3 -d 2> err || ! grep -q pre-dump err; then
	fail refuse-predump "$(cat err)"
elif kill -0 $pid 2>/dev/null; then
	fail refuse-predump "pid $pid exists"
else
	pass refuse-predump
fi
mv d5/cr.img d5/real.img
cp d4/cr.img d5/cr.img
if "$CR" restore -D d6 -d 2> err || ! grep -q 'not the image' err; then
	fail refuse-wrong-parent "$(cat err)"
elif kill -0 $pid 2>/dev/null; then
	fail refuse-wrong-parent "pid $pid exists"
else
	pass refuse-wrong-parent
fi
mv d5/real.img d5/cr.img

# --verify checks every image of a chain: the pre-dumps were signed with
# another key than the dump, so the dump alone passes and its parent not.
if "$CR" restore -D d6 -d --verify key 2> err ||
   ! grep -q 'd5/cr.img.*MAC' err; then
	fail verify-chain "a chain with a parent signed by another key: $(cat err)"
elif kill -0 $pid 2>/dev/null; then
	fail verify-chain "pid $pid exists"
else
	pass verify-chain
fi

if "$CR" restore -D d6 -d 2> err; then
	kill -USR1 $pid
	case $(checked 2) in
	ok*) pass restore ;;
	*) fail restore "$(tail -2 log)" ;;
	esac
	if ls -l /proc/$pid/fd | grep -q userfaultfd ||
	   grep -q 'VmFlags:.* uw' /proc/$pid/smaps; then
		fail no-tracker-after "a tracker came back"
	else
		pass no-tracker-after
	fi
else
	fail restore "$(cat err)"
fi

# A kernel without write-protect tracking (CR_NO_UFFD_WP=1 acts as one):
# soft-dirty bits where the kernel has them (not on this one, most likely),
# else each image holds all the memory, said on stderr; the chain restores
# right either way, and no tracker fd is left in the process.
sd=false
[ -e /proc/self/clear_refs ] && grep -q ' sd' /proc/self/smaps && sd=true
ok=true
for i in 1 2; do
	mkdir n$i
	prev=
	[ $i -gt 1 ] && prev="--prev-images-dir ../n$((i - 1))"
	if ! CR_NO_UFFD_WP=1 "$CR" pre-dump -v -t $pid -D n$i $prev 2> err$i; then
		fail untracked-pre-dump "$(cat err$i)"
		ok=false
		break
	fi
	sleep 0.2
done
if $ok; then
	if $sd; then
		grep -q 'soft-dirty' err1 && pass untracked-said ||
			fail untracked-said "no soft-dirty: $(cat err1)"
	else
		grep -q '^cr: pre-dump: pid [0-9]*: no memory-change tracking' err1 &&
			pass untracked-said ||
			fail untracked-said "no warning: $(cat err1)"
	fi
	ls -l /proc/$pid/fd | grep -q userfaultfd &&
		fail untracked-no-fd "a userfaultfd in the process" ||
		pass untracked-no-fd
	mkdir n3
	if CR_NO_UFFD_WP=1 "$CR" dump -t $pid -D n3 --prev-images-dir ../n2 2> err; then
		s1=$(stat -c %s n1/cr.img)
		s3=$(stat -c %s n3/cr.img)
		if $sd; then
			[ $((s3 * 3)) -lt "$s1" ] && pass untracked-size ||
				fail untracked-size "soft-dirty dump $s3 bytes, first $s1"
		else
			[ $((s3 * 10)) -gt $((s1 * 9)) ] && pass untracked-size ||
				fail untracked-size "untracked dump $s3 bytes < first $s1"
		fi
		if "$CR" restore -D n3 -d 2> err; then
			kill -USR1 $pid
			case $(checked 3) in
			ok*) pass untracked-restore ;;
			*) fail untracked-restore "$(tail -2 log)" ;;
			esac
		else
			fail untracked-restore "$(cat err)"
		fi
	else
		fail untracked-dump "$(cat err)"
	fi
fi
# A pre-dump that fails after it reset the tracking and let the process go
# (here: a fault injected once its pages are copied, then cr SIGKILLed at
# the same point) leaves a tracker no image names.  The next pre-dump
# against the last good image must not trust it: it takes that tracker
# over, saves all pages, and the chain restores right.
mkdir f1 f2 f3 f4 f5
if "$CR" pre-dump -t $pid -D f1 2> err; then
	sleep 0.2
	CR_FAULT=dump-end "$CR" pre-dump -t $pid -D f2 --prev-images-dir ../f1 2> err
	sleep 0.2
	CR_FAULT=dump-end:kill "$CR" pre-dump -t $pid -D f3 --prev-images-dir ../f1 2> err
	sleep 0.2
	if "$CR" pre-dump -v -t $pid -D f4 --prev-images-dir ../f1 2> err; then
		grep -q 'did not finish: all pages are saved' err &&
			pass failed-round-not-trusted ||
			fail failed-round-not-trusted "$(grep -i track err)"
		n=$(ls -l /proc/$pid/fd | grep -c userfaultfd)
		[ "$n" = 1 ] && pass failed-round-one-fd ||
			fail failed-round-one-fd "$n userfaultfd fds"
		sleep 0.2
		if "$CR" dump -t $pid -D f5 --prev-images-dir ../f4 2> err &&
		   "$CR" restore -D f5 -d 2> err; then
			kill -USR1 $pid
			case $(checked 4) in
			ok*) pass failed-round-restore ;;
			*) fail failed-round-restore "$(tail -2 log)" ;;
			esac
		else
			fail failed-round-restore "$(cat err)"
		fi
	else
		fail failed-round-not-trusted "$(cat err)"
	fi
else
	fail failed-round "$(cat err)"
fi
# The first chain restored again with --lazy-pages: pages of every image
# of the chain come through the page server after the program runs.
kill -KILL $pid
for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
truncate -s "$logsz" log	# as it was at that dump
if ! "$CR" check 2>&1 | grep -q '^ok *uffd events'; then
	echo "SKIP predump.lazy-restore: no userfaultfd for --lazy-pages"
elif "$CR" restore -D d6 -d --lazy-pages 2> err; then
	kill -USR1 $pid
	for i in $(seq 100); do
		grep -aqE '^(ok|bad) ' log && break
		sleep 0.05
	done
	case $(grep -aE '^(ok|bad) ' log | tail -1) in
	ok*) pass lazy-restore; lazy=true ;;
	*) fail lazy-restore "$(tail -2 log)" ;;
	esac
else
	fail lazy-restore "$(cat err)"
fi
# A longer chain, restored lazily: seven pre-dumps (once the page server
# let go of the process: no mapping registered with its userfaultfd),
# then the dump; the page server keeps every image of it open.
if ${lazy:-false}; then
	for i in $(seq 200); do
		grep -q '^VmFlags:.* um' /proc/$pid/smaps || break
		sleep 0.05
	done
	ok=true
	for i in 1 2 3 4 5 6 7; do
		mkdir e$i
		prev=
		[ $i -gt 1 ] && prev="--prev-images-dir ../e$((i - 1))"
		"$CR" pre-dump -t $pid -D e$i $prev 2> err || { ok=false; break; }
	done
	mkdir e8
	if $ok && "$CR" dump -t $pid -D e8 --prev-images-dir ../e7 2> err; then
		for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
		logsz=$(stat -c %s log)
		if "$CR" restore -D e8 -d --lazy-pages 2> err; then
			kill -USR1 $pid
			for i in $(seq 100); do
				[ "$(stat -c %s log)" -gt "$logsz" ] &&
					grep -aqE '^(ok|bad) ' <(tail -c +$((logsz + 1)) log) && break
				sleep 0.05
			done
			case $(tail -c +$((logsz + 1)) log | grep -aE '^(ok|bad) ' | tail -1) in
			ok*) pass lazy-restore-7 ;;
			*) fail lazy-restore-7 "$(tail -2 log)" ;;
			esac
		else
			fail lazy-restore-7 "$(cat err)"
		fi
	else
		fail lazy-restore-7 "$(cat err)"
	fi
fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]
