/* A child subreaper root adopted an orphaned grandchild before the dump, keeps it as its child, and adopts another orphan after restore. */
#include "lib.h"
#include <sys/prctl.h>

/* The only child of the root, from /proc (its parent has died). */
static pid_t only_child(void)
{
	char path[64], buf[64] = "";
	int pid = 0, more;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
		 (int)test_pid, (int)test_pid);
	if (read_file(path, buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%d %d", &pid, &more) != 1)
		fail("want one child in %s: \"%s\"", path, buf);
	return pid;
}

/* After restore: fork an orphan-to-be, then end (33). */
static void grandchild(int sync[2], pid_t root)
{
	pid_t me;

	child_ready(sync);
	test_wait();
	if (getppid() != root)
		fail("the adopted child's parent is %d, want %d",
		     (int)getppid(), (int)root);
	me = getpid();
	if (!xfork()) {
		while (getppid() == me)
			sleep_us(1000);
		_exit(getppid() == root ? 44 : 45);
	}
	exit(33);
}

int main(int argc, char **argv)
{
	int sync[2], on = 0;
	pid_t a, g, ppid = 0;

	test_init(argc, argv);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	sync_open(sync);
	a = xfork();
	if (!a) {
		if (!xfork())
			grandchild(sync, test_pid);
		_exit(5);
	}
	child_reap(a, 5);
	children_ready(sync, 1);
	g = only_child();
	if (proc_state(g, &ppid) == 0 || ppid != test_pid)
		fail("orphan %d has parent %d", (int)g, (int)ppid);
	test_ready();
	test_wait();

	if (prctl(PR_GET_CHILD_SUBREAPER, &on) || on != 1)
		fail("PR_GET_CHILD_SUBREAPER: %d", on);
	if (only_child() != g)
		fail("the adopted child is not %d", (int)g);
	children_end(&g, (int[]){ 33 }, 1);
	child_reap(-1, 44);
	pass();
}
