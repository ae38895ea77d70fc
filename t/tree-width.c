/* Ten children of the root, half spinning and half asleep: each keeps its pid, parent, group, pdeath signal, inherited and own memory. */
#include "lib.h"
#include <sys/prctl.h>

#define NCHILD 10
#define MEM 65536

static unsigned char inherited[MEM], own[MEM];
static pid_t root, pgid, sid;

static void check(int i)
{
	int sig = -1;
	long off;

	if (getppid() != root || getpgrp() != pgid || getsid(0) != sid)
		fail("child %d: parent %d group %d session %d, want %d %d %d",
		     i, (int)getppid(), (int)getpgrp(), (int)getsid(0),
		     (int)root, (int)pgid, (int)sid);
	if (prctl(PR_GET_PDEATHSIG, &sig) || sig != (i % 3 ? 0 : SIGKILL))
		fail("child %d: pdeath signal %d", i, sig);
	if ((off = pattern_check(inherited, MEM, 7)) >= 0)
		fail("child %d: inherited memory differs at %ld", i, off);
	if ((off = pattern_check(own, MEM, 2000 + i)) >= 0)
		fail("child %d: own memory differs at %ld", i, off);
}

static void child(int i, int sync[2])
{
	if (prctl(PR_SET_PDEATHSIG, i % 3 ? 0 : SIGKILL))
		fail("PR_SET_PDEATHSIG: %s", strerror(errno));
	pattern_fill(own, MEM, 2000 + i);
	child_ready(sync);
	if (i & 1)
		spin_counters(100000);
	else
		test_wait();
	check(i);
	exit(20 + i);
}

int main(int argc, char **argv)
{
	pid_t pids[NCHILD];
	int codes[NCHILD], sync[2], i;
	long off;

	test_init(argc, argv);
	root = getpid();
	pgid = getpgrp();
	sid = getsid(0);
	sync_open(sync);
	pattern_fill(inherited, MEM, 7);
	pattern_fill(own, MEM, 1000);
	for (i = 0; i < NCHILD; i++) {
		pids[i] = xfork();
		if (!pids[i])
			child(i, sync);
		codes[i] = 20 + i;
	}
	children_ready(sync, NCHILD);
	test_ready();
	test_wait();

	if ((off = pattern_check(own, MEM, 1000)) >= 0)
		fail("root memory differs at %ld", off);
	children_end(pids, codes, NCHILD);
	pass();
}
