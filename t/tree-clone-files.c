/* A child cloned with CLONE_FILES (not a thread) shares its parent's fd table: after restore it still does (kcmp), and an fd either one opens is there for the other. */
#include "lib.h"
#include <sched.h>
#include <sys/eventfd.h>

#define KCMP_FILES 2

static int up[2], down[2];	/* child -> parent, parent -> child */

/* The fd number the other one sends, which must read back as want. */
static void check_theirs(int from, uint64_t want, const char *me)
{
	uint64_t v = 0;
	int fd;

	if (read(from, &fd, sizeof(fd)) != sizeof(fd))
		fail("%s: reading the fd number: %s", me, strerror(errno));
	if (read(fd, &v, sizeof(v)) != sizeof(v) || v != want)
		fail("%s: fd %d the other opened: %s, value %llu, want %llu",
		     me, fd, strerror(errno), (unsigned long long)v,
		     (unsigned long long)want);
}

static int open_mine(int to, uint64_t val)
{
	int fd = eventfd(val, EFD_CLOEXEC);

	if (fd < 0 || write(to, &fd, sizeof(fd)) != sizeof(fd))
		fail("eventfd: %s", strerror(errno));
	return fd;
}

static int sharer(void *arg)
{
	(void)arg;
	child_ready_on(up[1]);
	test_wait();
	open_mine(up[1], 7);
	check_theirs(down[0], 9, "child");
	_exit(21);
}

int main(int argc, char **argv)
{
	static char stack[65536] __attribute__((aligned(16)));
	pid_t pid;
	char c;

	test_init(argc, argv);
	if (pipe(up) || pipe(down))
		fail("pipe: %s", strerror(errno));
	pid = clone(sharer, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0)
		fail("clone: %s", strerror(errno));
	if (read(up[0], &c, 1) != 1)
		fail("the child did not start");
	test_ready();
	test_wait();

	if (syscall(SYS_kcmp, getpid(), pid, KCMP_FILES, 0, 0))
		fail("the child no longer shares the fd table: %s",
		     strerror(errno));
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	check_theirs(up[0], 7, "parent");
	open_mine(down[1], 9);
	child_reap(pid, 21);
	pass();
}
