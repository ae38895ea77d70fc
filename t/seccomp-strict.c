/* A child in strict seccomp mode, blocked in read: after restore it is still in mode 1, echoes a byte (read/write allowed) and is killed by its next other syscall. */
#include "lib.h"
#include "seccomp.h"

int main(int argc, char **argv)
{
	int to_child[2], from_child[2], st;
	char s[32], path[64], c;
	pid_t kid;

	test_init(argc, argv);
	kid = sc_fork_piped(to_child, from_child);
	if (kid == 0) {
		char b;

		if (prctl(PR_SET_SECCOMP, 1 /* SECCOMP_MODE_STRICT */, 0, 0, 0))
			_exit(10);
		if (syscall(SYS_read, to_child[0], &b, 1) != 1 ||
		    syscall(SYS_write, from_child[1], &b, 1) != 1)
			syscall(SYS_exit, 11);
		syscall(SYS_getpid);	/* killed here */
		syscall(SYS_exit, 12);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", kid);
	for (int i = 0; i < 1000; i++) {	/* wait for it to enter mode 1 */
		sc_status(path, s, sizeof(s));
		if (!strcmp(s, "1/0"))
			break;
		sleep_us(1000);
	}
	if (strcmp(s, "1/0"))
		fail("child not in strict mode: %s", s);
	test_ready();
	test_wait();

	sc_status(path, s, sizeof(s));
	if (strcmp(s, "1/0"))
		fail("child: seccomp %s after restore, want strict (1/0)", s);
	if (write(to_child[1], "q", 1) != 1 || read(from_child[0], &c, 1) != 1 ||
	    c != 'q')
		fail("child did not echo: %s", strerror(errno));
	if (waitpid(kid, &st, 0) != kid || !WIFSIGNALED(st) ||
	    WTERMSIG(st) != SIGKILL)
		fail("child was not killed by strict mode (status %#x)", st);
	pass();
}
