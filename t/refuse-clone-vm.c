/* A child sharing memory and signal handlers (clone(CLONE_VM | CLONE_SIGHAND), not a thread, as after vfork): cr dump must refuse, naming CLONE_VM, and leave both running. */
#include "lib.h"
#include <sched.h>
#include <sys/prctl.h>

#define KCMP_VM 1

static int sharer(void *arg)
{
	(void)arg;
	for (;;)	/* raw syscall: no libc state on this shared stack */
		syscall(SYS_ppoll, NULL, 0, NULL, NULL, 0);
	return 0;
}

int main(int argc, char **argv)
{
	static char stack[65536] __attribute__((aligned(16)));
	pid_t pid;
	long r;
	int st;

	test_init(argc, argv);
	pid = clone(sharer, stack + sizeof(stack),
		    CLONE_VM | CLONE_SIGHAND | SIGCHLD, NULL);
	if (pid < 0)
		fail("clone: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	r = syscall(SYS_kcmp, getpid(), pid, KCMP_VM, 0, 0);
	if (waitpid(pid, NULL, WNOHANG) != 0 ||
	    (r && !(r < 0 && errno == ENOSYS)))
		fail("the child is gone or no longer shares the memory");
	kill(pid, SIGKILL);
	st = xwaitpid(pid, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail("the child ended with %s", wait_str(st));
	pass();
}
