/* A POSIX shared memory object in /dev/shm, mapped by the parent (fd closed) and opened and mapped by the child (fd kept): still one after restore. */
#include "lib.h"
#include <sys/mman.h>
#include <sys/stat.h>

#define NPAGES 16
#define TO_PARENT 14		/* written after restore */
#define TO_CHILD 15

static char name[64], path[80];

static unsigned char *map(int fd)
{
	void *p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);

	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	return p;
}

/* Pages 0 (parent) and 1 (child) hold what was written before the dump. */
static void check(const unsigned char *p, const char *who)
{
	check_shared_map(p, path, who);
	if (pattern_check(p, PAGE, 1) >= 0 ||
	    pattern_check(p + PAGE, PAGE, 2) >= 0)
		fail("%s: the pages written before the dump differ", who);
}

static void child(int sync[2])
{
	struct stat a, b;
	unsigned char *p;
	int fd;

	fd = shm_open(name, O_RDWR, 0);
	if (fd < 0)
		fail("child: shm_open: %s", strerror(errno));
	p = map(fd);
	pattern_fill(p + PAGE, PAGE, 2);
	child_ready(sync);
	test_wait();

	check(p, "child");
	if (fstat(fd, &a) || stat(path, &b) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev || a.st_size != NPAGES * PAGE)
		fail("child: fd %d is not %s any more", fd, path);
	page_exchange(p + TO_PARENT * PAGE, 5, p + TO_CHILD * PAGE, 6,
		      "child");
	exit(70);
}

int main(int argc, char **argv)
{
	unsigned char *p;
	int sync[2], fd;
	pid_t pid;

	test_init(argc, argv);
	snprintf(name, sizeof(name), "/cr-t-shm-%d", (int)test_pid);
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, NPAGES * PAGE))
		fail("shm_open %s: %s", name, strerror(errno));
	p = map(fd);
	close(fd);
	pattern_fill(p, PAGE, 1);
	sync_open(sync);
	pid = xfork();
	if (!pid)
		child(sync);
	children_ready(sync, 1);
	if (pattern_check(p + PAGE, PAGE, 2) >= 0)
		fail("the child's write does not show before the dump");
	test_ready();
	test_wait();

	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	check(p, "parent");
	page_exchange(p + TO_CHILD * PAGE, 6, p + TO_PARENT * PAGE, 5,
		      "parent");
	child_reap(pid, 70);
	if (shm_unlink(name))
		fail("shm_unlink %s: %s", name, strerror(errno));
	pass();
}
