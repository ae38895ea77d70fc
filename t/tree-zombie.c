/* Children that ended before the dump (exit 42, killed by SIGUSR1, and a grandchild with exit 99) come back as zombies: waitpid sees what it would have seen. */
#include "lib.h"

struct zombie {
	pid_t pid;
	siginfo_t si;		/* waitid(WNOWAIT) before the dump */
};

/* A child that ends at once, by exit(code) or by signal -code. */
static void zombie(struct zombie *z, int code)
{
	z->pid = xfork();
	if (!z->pid) {
		if (code < 0) {
			signal(-code, SIG_DFL);
			raise(-code);
		}
		_exit(code);
	}
	memset(&z->si, 0, sizeof(z->si));
	if (waitid(P_PID, z->pid, &z->si, WEXITED | WNOWAIT))
		fail("waitid(%d): %s", (int)z->pid, strerror(errno));
}

/* After restore: still a zombie, with the same exit status. */
static void check(const struct zombie *z)
{
	siginfo_t si;
	char st = proc_state(z->pid, NULL);

	if (st != 'Z')
		fail("child %d is in state %c, want a zombie", (int)z->pid,
		     st ? st : '?');
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, z->pid, &si, WEXITED | WNOWAIT | WNOHANG))
		fail("waitid(%d): %s", (int)z->pid, strerror(errno));
	if (si.si_pid != z->pid || si.si_code != z->si.si_code ||
	    si.si_status != z->si.si_status)
		fail("child %d ended with code %d status %d, was %d %d",
		     (int)z->pid, si.si_code, si.si_status, z->si.si_code,
		     z->si.si_status);
}

/* The next child waitpid(-1) gives must be one of zs[n], and end so. */
static void reap_one(const struct zombie *zs, int n)
{
	pid_t pid;
	int st, i;

	pid = waitpid(-1, &st, WNOHANG);
	for (i = 0; i < n; i++)
		if (zs[i].pid == pid)
			break;
	if (pid <= 0 || i == n)
		fail("waitpid(-1, WNOHANG) gave %d, want a zombie", (int)pid);
	if (zs[i].si.si_code == CLD_EXITED ?
	    !WIFEXITED(st) || WEXITSTATUS(st) != zs[i].si.si_status :
	    !WIFSIGNALED(st) || WTERMSIG(st) != zs[i].si.si_status)
		fail("zombie %d: %s", (int)pid, wait_str(st));
}

static void no_children(const char *who)
{
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		fail("%s has children left", who);
}

/* A live child with a zombie of its own. */
static void live(int sync[2])
{
	struct zombie zz;

	zombie(&zz, 99);
	child_ready(sync);
	test_wait();
	check(&zz);
	reap_one(&zz, 1);
	no_children("the live child");
	exit(7);
}

int main(int argc, char **argv)
{
	struct zombie zs[2];
	int sync[2], i;
	pid_t pid;

	test_init(argc, argv);
	sync_open(sync);
	zombie(&zs[0], 42);
	zombie(&zs[1], -SIGUSR1);
	if (zs[0].si.si_code != CLD_EXITED || zs[1].si.si_code != CLD_KILLED)
		fail("zombies did not end as planned");
	pid = xfork();
	if (!pid)
		live(sync);
	children_ready(sync, 1);
	test_ready();
	test_wait();

	for (i = 0; i < 2; i++)
		check(&zs[i]);
	for (i = 0; i < 2; i++)
		reap_one(zs, 2);
	children_end(&pid, (int[]){ 7 }, 1);
	no_children("the root");
	pass();
}
