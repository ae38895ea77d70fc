#!/bin/bash
# restore --lazy-pages when things go wrong: (1) a flipped byte in the page
# data of the image (END's CRC made right, as a disk error would not, but
# a PAGES_CRC says what the pages were): the restored program is killed
# before it can use the bad page for long, while a plain restore refuses
# the image; (2) the page server killed while most pages are still out:
# the program gets SIGBUS where it touches a missing page, never a page of
# zeros; (3) as (1), in the parent image of a pre-copy chain.  Needs root
# and gcc.
#   CR=path/to/cr bash t/lazy.sh
# Prints "PASS/FAIL lazy.CASE" lines and "N passed, N failed".

# Run as init of a private pid namespace: the dumped pid is then free
# again as soon as it dies, for the restore.
if [ "$$" != 1 ] && [ -z "${CR_LAZY_NS:-}" ]; then
	exec env CR_LAZY_NS=1 ${CR:+CR="$CR"} unshare -pf --mount-proc bash "$0" "$@"
fi
T_NAME=lazy
. "$(dirname "$0")/shlib.sh"
if ! "$CR" check 2>&1 | grep -q '^ok *uffd events'; then
	echo "SKIP lazy: this kernel's userfaultfd cannot do --lazy-pages"
	exit 0
fi

cat > "$tmp/prog.c" <<'EOF'
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NPAGES (262144UL)		/* 1 GiB */

static volatile sig_atomic_t check;
static uint64_t at;

static void on_usr1(int sig)
{
	(void)sig;
	check = 1;
}

/* Runs on an alternate stack in shared memory (restored at once, not
 * lazily) and touches nothing else that could be missing (no errno, no
 * thread data: raw syscalls).  Signals are delivered on that stack too:
 * a frame pushed onto a missing page of the stack would be a SIGSEGV. */
static void on_bus(int sig)
{
	(void)sig;
	syscall(SYS_write, 2, "sigbus \n", 8);
	syscall(SYS_exit_group, 3);
}

int main(void)
{
	uint64_t *mem = mmap(NULL, NPAGES * 4096, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = { .ss_size = 65536 };
	char line[80];

	ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED || sigaltstack(&ss, NULL))
		return 5;
	syscall(SYS_close_range, 3, ~0u, 0);
	setsid();
	{
		struct sigaction sa = { .sa_handler = on_bus,
					.sa_flags = SA_ONSTACK };

		sigaction(SIGBUS, &sa, NULL);
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
	}
	for (uint64_t p = 0; p < NPAGES; p++)
		mem[p * 512] = p * 0x9e3779b97f4a7c15ULL | 1;
	fprintf(stderr, "ready\n");
	for (;;) {
		uint64_t bad = 0, zero = 0;

		while (!check)	/* not pause(): a restored one is re-run
				   after the signal came, and waits on */
			usleep(1000);
		check = 0;
		for (at = NPAGES; at-- > 0;) {	/* the server goes up */
			uint64_t v = mem[at * 512];

			zero += !v;
			bad += v != (at * 0x9e3779b97f4a7c15ULL | 1);
		}
		snprintf(line, sizeof(line), "%s %llu zero %llu\n",
			 bad ? "bad" : "ok", (unsigned long long)bad,
			 (unsigned long long)zero);
		if (write(2, line, strlen(line)) < 0)
			return 3;
	}
}
EOF
gcc -O2 -o "$tmp/prog" "$tmp/prog.c" || exit 1


# Wait for a line matching $1 in the log; print it.
line() {
	local i
	for i in $(seq 600); do
		grep -aqE "$1" "$tmp/log" && break
		sleep 0.05
	done
	grep -aE "$1" "$tmp/log" | tail -1
}

gone() {
	local i
	for i in $(seq 200); do
		kill -0 $pid 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

cd "$tmp"
./prog < /dev/null > /dev/null 2> log &
pid=$!
line ready > /dev/null
mkdir d
"$CR" dump -t $pid -D d 2> err || { bad dump "$(cat err)"; exit 1; }
{ wait $pid; } 2>/dev/null
logsz=$(stat -c %s log)

# (2) the page server killed at once: SIGBUS, not zeros
if "$CR" restore -D d -d --lazy-pages -v 2> err; then
	srv=$(sed -n 's/.*page server: pid \([0-9]*\).*/\1/p' err | tail -1)
	if [ -z "$srv" ]; then
		bad server-killed "no page server pid in the log"
	else
		kill -KILL "$srv"
		kill -USR1 $pid
		case $(line '^(ok|bad|sigbus) ') in
		sigbus*) ok server-killed ;;
		ok*) bad server-killed "all pages were in before the kill: $(tail -1 log)" ;;
		*) bad server-killed "$(tail -1 log)" ;;
		esac
		grep -q 'page server was killed' err && ok server-killed-said ||
			bad server-killed-said "$(cat err)"
	fi
	kill -KILL $pid 2>/dev/null
	gone || bad server-killed "pid $pid does not go"
else
	bad server-killed "$(cat err)"
fi

# a good lazy restore of the same image for comparison
truncate -s "$logsz" log
if "$CR" restore -D d -d --lazy-pages 2> err; then
	kill -USR1 $pid
	case $(line '^(ok|bad|sigbus) ') in
	ok*) ok restore ;;
	*) bad restore "$(tail -1 log)" ;;
	esac
	kill -KILL $pid
	gone
else
	bad restore "$(cat err)"
fi

# Fault points of a lazy restore: it fails cleanly, nothing is left (the
# program, the page server and its guardian are gone).
for f in restore-lazy restore-lazy:kill restore-lazy-server \
	 restore-lazy-server:kill restore-stops restore-stops:kill blob-LAZY; do
	if CR_FAULT=$f "$CR" restore -D d -d --lazy-pages 2> err; then
		bad fault-$f "restore succeeded"
		kill -KILL $pid
	elif ! gone; then
		bad fault-$f "pid $pid is left"
	else
		sleep 0.3
		left=$(ps -eo pid=,args= | grep -v grep | grep -c 'restore -D d')
		[ "$left" = 0 ] && ok fault-$f ||
			bad fault-$f "$left cr processes left: $(ps -eo pid,args | grep 'restore -D d')"
	fi
done

# (1) a byte of page data changed: plain restore refuses the image; a
# lazy one checks END against the PAGES_CRC records instead of reading the
# pages, runs the program and kills it once its server has checked them
off=$(( $(stat -c %s d/cr.img) / 2 + 17 ))
printf '\x5a' | dd of=d/cr.img bs=1 seek=$off conv=notrunc status=none
if "$CR" restore -D d -d 2> err || ! grep -q 'checksum mismatch' err; then
	bad corrupt-refused "$(cat err)"
else
	ok corrupt-refused
fi
truncate -s "$logsz" log
if "$CR" restore -D d -d --lazy-pages 2> err; then
	if gone; then
		ok corrupt-killed
	else
		bad corrupt-killed "pid $pid still runs"
	fi
	grep -q 'checksum mismatch in its page data' err && ok corrupt-said ||
		bad corrupt-said "$(cat err)"
else
	bad corrupt-killed "restore failed: $(cat err)"
fi

# (3) the same in the parent image of a pre-copy chain: those pages are
# checked while the program runs too, not read before the fork
truncate -s 0 log
./prog < /dev/null > /dev/null 2> log &
pid=$!
line ready > /dev/null
mkdir p c
"$CR" pre-dump -t $pid -D p 2> err &&
	"$CR" dump -t $pid -D c --prev-images-dir "$tmp/p" 2>> err ||
	{ bad chain-dump "$(cat err)"; exit 1; }
{ wait $pid; } 2>/dev/null
off=$(( $(stat -c %s p/cr.img) / 2 + 17 ))
printf '\x5a' | dd of=p/cr.img bs=1 seek=$off conv=notrunc status=none
if "$CR" restore -D c -d 2> err || ! grep -q 'checksum mismatch' err; then
	bad corrupt-parent-refused "$(cat err)"
else
	ok corrupt-parent-refused
fi
if "$CR" restore -D c -d --lazy-pages 2> err; then
	if gone; then
		ok corrupt-parent-killed
	else
		bad corrupt-parent-killed "pid $pid still runs"
	fi
	grep -q 'checksum mismatch in its page data' err &&
		ok corrupt-parent-said || bad corrupt-parent-said "$(cat err)"
else
	bad corrupt-parent-killed "restore failed: $(cat err)"
fi

summary
