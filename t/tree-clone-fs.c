/* A child cloned with CLONE_FS (not a thread) shares its parent's cwd and umask: after restore it still does (kcmp), and a chdir or umask in either one is seen by the other. */
#include "lib.h"
#include <sched.h>
#include <sys/stat.h>

#define KCMP_FS 3

static int up[2], down[2];	/* child -> parent, parent -> child */
static char cwd0[4096];

static void check_fs(const char *dir, mode_t mask, const char *me)
{
	char buf[4096];
	mode_t m = umask(0);

	umask(m);
	if (!getcwd(buf, sizeof(buf)) || strcmp(buf, dir) || m != mask)
		fail("%s: cwd %s umask %03o, want %s %03o", me, buf,
		     (unsigned)m, dir, (unsigned)mask);
}

static void step(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		fail("sync: %s", strerror(errno));
}

static int sharer(void *arg)
{
	(void)arg;
	child_ready_on(up[1]);
	test_wait();
	check_fs(cwd0, 022, "child");
	umask(027);
	if (chdir("/") || write(up[1], "c", 1) != 1)
		fail("child: chdir: %s", strerror(errno));
	step(down[0]);
	check_fs("/dev", 077, "child");
	_exit(22);
}

int main(int argc, char **argv)
{
	static char stack[65536] __attribute__((aligned(16)));
	pid_t pid;

	test_init(argc, argv);
	umask(022);
	if (!getcwd(cwd0, sizeof(cwd0)) || pipe(up) || pipe(down))
		fail("getcwd, pipe: %s", strerror(errno));
	pid = clone(sharer, stack + sizeof(stack), CLONE_FS | SIGCHLD, NULL);
	if (pid < 0)
		fail("clone: %s", strerror(errno));
	step(up[0]);
	test_ready();
	test_wait();

	if (syscall(SYS_kcmp, getpid(), pid, KCMP_FS, 0, 0))
		fail("the child no longer shares its fs struct: %s",
		     strerror(errno));
	check_fs(cwd0, 022, "parent");
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	step(up[0]);
	check_fs("/", 027, "parent");
	umask(077);
	if (chdir("/dev") || write(down[1], "p", 1) != 1)
		fail("parent: chdir: %s", strerror(errno));
	child_reap(pid, 22);
	pass();
}
