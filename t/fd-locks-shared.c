/* POSIX locks in an fd table shared without being threads (CLONE_FILES): the parent's and the child's ranges are each held by its own pid after restore, though cr closes its own fds in that table last. */
#include "lib.h"
#include <sched.h>

static int up[2], fd;

static void set(short type, off_t start, off_t len, const char *what)
{
	struct flock f = { .l_type = type, .l_whence = SEEK_SET,
			   .l_start = start, .l_len = len };

	if (fcntl(fd, F_SETLK, &f))
		fail("%s: %s", what, strerror(errno));
}

/* A process that shares nothing must see this holder for the range. */
static void expect(off_t at, pid_t pid, off_t start, off_t len,
		   const char *what)
{
	pid_t kid = xfork();

	if (!kid) {
		struct flock f = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				   .l_start = at, .l_len = 1 };
		int other = open("a", O_RDWR);

		if (other < 0 || fcntl(other, F_GETLK, &f))
			fail("%s: F_GETLK: %s", what, strerror(errno));
		if (f.l_type != F_WRLCK || f.l_pid != pid ||
		    f.l_start != start || f.l_len != len)
			fail("%s: lock type %d pid %d range %lld+%lld, want "
			     "write lock of pid %d on %lld+%lld", what,
			     f.l_type, (int)f.l_pid, (long long)f.l_start,
			     (long long)f.l_len, (int)pid, (long long)start,
			     (long long)len);
		_exit(0);
	}
	child_reap(kid, 0);
}

static int sharer(void *arg)
{
	(void)arg;
	set(F_WRLCK, 20, 10, "child's lock");
	child_ready_on(up[1]);
	test_wait();
	_exit(21);
}

int main(int argc, char **argv)
{
	static char stack[65536] __attribute__((aligned(16)));
	pid_t pid;
	char c;

	test_init(argc, argv);
	fd = open("a", O_RDWR | O_CREAT, 0600);
	if (fd < 0 || pipe(up))
		fail("open, pipe: %s", strerror(errno));
	set(F_WRLCK, 0, 10, "parent's lock");
	pid = clone(sharer, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
	if (pid < 0)
		fail("clone: %s", strerror(errno));
	if (read(up[0], &c, 1) != 1)
		fail("the child did not start");
	test_ready();
	test_wait();

	expect(5, getpid(), 0, 10, "parent's lock");
	expect(25, pid, 20, 10, "child's lock");
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(pid, 21);
	pass();
}
