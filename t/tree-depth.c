/* A chain of four processes below the root: each keeps its pid, parent, pdeath signal, inherited and own memory, and exits with the code its parent expects. */
#include "lib.h"
#include <sys/prctl.h>

#define DEPTH 4
#define HALF 32768

static const int pdeath[DEPTH + 1] = { 0, SIGKILL, 0, SIGUSR2, SIGKILL };
static unsigned char mem[2 * HALF];

int main(int argc, char **argv)
{
	pid_t parent = 0, child = 0;
	int sync[2], level = 0, sig = -1;
	long off;

	test_init(argc, argv);
	sync_open(sync);
	pattern_fill(mem, HALF, 100);	/* shared by all, copy-on-write */
	while (level < DEPTH) {
		pid_t me = getpid();

		child = xfork();
		if (child)
			break;
		level++;
		parent = me;
		if (prctl(PR_SET_PDEATHSIG, pdeath[level]))
			fail("PR_SET_PDEATHSIG: %s", strerror(errno));
	}
	pattern_fill(mem + HALF, HALF, level);
	if (level) {
		child_ready(sync);
	} else {
		children_ready(sync, DEPTH);
		test_ready();
	}
	test_wait();

	if (child && kill(child, SIGTERM))
		fail("level %d: kill(%d): %s", level, (int)child,
		     strerror(errno));
	if (level && getppid() != parent)
		fail("level %d: parent %d, want %d", level, (int)getppid(),
		     (int)parent);
	if (prctl(PR_GET_PDEATHSIG, &sig) || sig != pdeath[level])
		fail("level %d: pdeath signal %d, want %d", level, sig,
		     pdeath[level]);
	if ((off = pattern_check(mem, HALF, 100)) >= 0)
		fail("level %d: inherited memory differs at %ld", level, off);
	if ((off = pattern_check(mem + HALF, HALF, level)) >= 0)
		fail("level %d: own memory differs at %ld", level, off);
	if (child)
		child_reap(child, 10 + level + 1);
	if (level)
		exit(10 + level);
	pass();
}
