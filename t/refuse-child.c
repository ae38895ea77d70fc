/* Has a child process: cr dump must refuse and leave the process running undisturbed. */
#include "lib.h"
#include <sys/prctl.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	pid_t child;
	int st;

	test_init(argc, argv);
	child = fork();
	if (child < 0)
		fail("fork: %s", strerror(errno));
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	if (waitpid(child, &st, WNOHANG) != 0)
		fail("child is gone");
	kill(child, SIGKILL);
	if (waitpid(child, &st, 0) != child || !WIFSIGNALED(st))
		fail("child did not die as expected");
	pass();
}
