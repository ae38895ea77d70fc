/* A child sharing the fd table (clone(CLONE_FILES), not a thread): cr dump must refuse, naming the fd table, and leave both running. */
#include "lib.h"
#include <sched.h>
#include <sys/prctl.h>

#define KCMP_FILES 2

static int sharer(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	static char stack[65536] __attribute__((aligned(16)));
	pid_t pid;
	long r;
	int st;

	test_init(argc, argv);
	pid = clone(sharer, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0)
		fail("clone: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	r = syscall(SYS_kcmp, getpid(), pid, KCMP_FILES, 0, 0);
	if (waitpid(pid, NULL, WNOHANG) != 0 ||
	    (r && !(r < 0 && errno == ENOSYS)))
		fail("the child is gone or no longer shares the fd table");
	kill(pid, SIGKILL);
	st = xwaitpid(pid, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail("the child ended with %s", wait_str(st));
	pass();
}
