/* Process groups whose leaders exited: a sibling's group the root's child joined, and an orphan adopted by the subreaper root in its dead parent's group; both keep parent, group and session, the leaders' pids stay free, and the groups can still be joined. */
#include "lib.h"
#include <sys/prctl.h>

static struct proc_want y, b;

/* A member: after restore, check itself and its group. */
static void __attribute__((noreturn)) member(int sync[2], struct proc_want *me,
					     int code)
{
	me->pid = getpid();
	child_ready(sync);
	test_wait();
	check_proc(me, "member");
	if (kill(-me->pgid, 0))
		fail("group %d: %s", (int)me->pgid, strerror(errno));
	exit(code);
}

static void gone(pid_t pid)
{
	if (proc_state(pid, NULL) || !kill(pid, 0) || errno != ESRCH)
		fail("the exited leader's pid %d is in use", (int)pid);
}

/* The root's two children, from /proc: the one that is not p. */
static pid_t other_child(pid_t p)
{
	pid_t k[2];

	my_children(k, 2);
	if (k[0] != p && k[1] != p)
		fail("root's children are %d %d, want %d and one more",
		     (int)k[0], (int)k[1], (int)p);
	return k[0] == p ? k[1] : k[0];
}

/* After restore: a new child can join each group, so it is real. */
static void join_both(pid_t x, pid_t a)
{
	int gate[2];
	char c;
	pid_t k;

	if (pipe(gate))
		fail("pipe: %s", strerror(errno));
	k = xfork();
	if (!k) {
		close(gate[1]);
		_exit(read(gate[0], &c, 1) == 0 ? 0 : 1);
	}
	close(gate[0]);
	if (setpgid(k, x) || getpgid(k) != x)
		fail("a new child joining group %d: %s", (int)x, strerror(errno));
	if (setpgid(k, a) || getpgid(k) != a)
		fail("a new child joining group %d: %s", (int)a, strerror(errno));
	close(gate[1]);
	child_reap(k, 0);
}

int main(int argc, char **argv)
{
	int sync[2], gate[2];
	pid_t x, a;
	char c;

	test_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	sync_open(sync);
	if (pipe(gate))
		fail("pipe: %s", strerror(errno));
	x = xfork();
	if (!x) {		/* X leads a group until Y is in it */
		close(gate[1]);
		close(sync[0]);
		close(sync[1]);
		_exit(read(gate[0], &c, 1) == 0 ? 7 : 1);
	}
	if (setpgid(x, x))
		fail("setpgid X: %s", strerror(errno));
	y = (struct proc_want){ 0, getpid(), x, getsid(0) };
	y.pid = xfork();
	if (!y.pid) {
		close(gate[0]);
		close(gate[1]);
		if (setpgid(0, x))
			fail("Y: setpgid: %s", strerror(errno));
		member(sync, &y, 31);
	}
	if (setpgid(y.pid, x) && errno != EACCES)
		fail("setpgid Y: %s", strerror(errno));
	close(gate[0]);
	close(gate[1]);
	child_reap(x, 7);
	a = xfork();
	if (!a) {		/* A leads a group and leaves B in it */
		if (setpgid(0, 0))
			fail("A: setpgid: %s", strerror(errno));
		b = (struct proc_want){ 0, test_pid, getpid(), getsid(0) };
		if (!xfork())
			member(sync, &b, 32);
		_exit(8);
	}
	child_reap(a, 8);
	children_ready(sync, 2);
	b = (struct proc_want){ other_child(y.pid), getpid(), a, getsid(0) };
	test_ready();
	test_wait();

	check_proc(&y, "R");
	check_proc(&b, "R");
	gone(x);
	gone(a);
	join_both(x, a);
	children_end((pid_t[]){ y.pid, b.pid }, (int[]){ 31, 32 }, 2);
	pass();
}
