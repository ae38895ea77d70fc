/* A child in a time namespace of its own (its parent's clocks differ from its): cr dump must refuse, naming the time namespace, and leave both running. */
#include "lib.h"
#include <sched.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	pid_t pid;
	int st;

	test_init(argc, argv);
	if (unshare(0x80 /* CLONE_NEWTIME: for the children */))
		skip("no time namespaces");
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	if (waitpid(pid, NULL, WNOHANG) != 0)
		fail("the child is gone");
	kill(pid, SIGKILL);
	st = xwaitpid(pid, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail("the child ended with %s", wait_str(st));
	pass();
}
