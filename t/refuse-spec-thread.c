/*
 * A thread with other speculation controls than its main thread (set by
 * PR_SET_SPECULATION_CTRL in that thread only) is refused at dump: cr
 * restores them per process.  Skipped where the kernel does not let a
 * process choose.
 */
#include "lib.h"
#include <sys/prctl.h>

#define MY_PR_SPEC_PRCTL 1
#define MY_PR_SPEC_DISABLE 4

static volatile int ready;

static void *thread_fn(void *arg)
{
	(void)arg;
	if (prctl(PR_SET_SPECULATION_CTRL, 0 /* store bypass */,
		  MY_PR_SPEC_DISABLE, 0, 0))
		fail("PR_SET_SPECULATION_CTRL: %s", strerror(errno));
	futex_set(&ready, 1);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	test_init(argc, argv);
	block_sigterm();
	if (!(prctl(PR_GET_SPECULATION_CTRL, 0, 0, 0, 0) & MY_PR_SPEC_PRCTL))
		skip("store bypass control is not per process here");
	thread_start(thread_fn, NULL);
	futex_await(&ready);

	test_ready();
	test_wait();

	if (prctl(PR_GET_SPECULATION_CTRL, 0, 0, 0, 0) & MY_PR_SPEC_DISABLE)
		fail("the main thread's control changed");
	pass();
}
