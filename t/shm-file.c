/* A MAP_SHARED file mapping, inherited by a child that also maps the file itself: all three mappings and the file stay one after restore. */
#include "lib.h"
#include <limits.h>
#include <sys/mman.h>

#define NPAGES 16
#define FILE_SEED 1		/* the file's contents, page by page */
#define TO_PARENT 14		/* written after restore */
#define TO_CHILD 15

static char path[PATH_MAX];

static uint64_t seed(int page, uint64_t by)
{
	return by * 100 + page;
}

/* Page i of the file holds the pattern of its last writer 'by[i]'. */
static int by[NPAGES];

static unsigned char *map_file(void)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	void *p;

	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 0);
	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	close(fd);
	return p;
}

static void write_page(unsigned char *map, int i, int who)
{
	by[i] = who;
	pattern_fill(map + i * PAGE, PAGE, seed(i, who));
}

/* The mapping holds what was written, except the pages in [skip, NPAGES). */
static void check(const unsigned char *map, int skip, const char *who)
{
	long off;
	int i;

	check_shared_map(map, path, who);
	for (i = 0; i < skip; i++)
		if ((off = pattern_check(map + i * PAGE, PAGE,
					 seed(i, by[i]))) >= 0)
			fail("%s: page %d differs at %ld", who, i, off);
}

static void child(unsigned char *inherited, int sync[2])
{
	unsigned char *own = map_file();

	write_page(own, 2, 3);
	child_ready(sync);
	test_wait();

	check(inherited, TO_PARENT, "child, inherited mapping");
	check(own, TO_PARENT, "child, own mapping");
	page_exchange(own + TO_PARENT * PAGE, seed(TO_PARENT, 5),
		      inherited + TO_CHILD * PAGE, seed(TO_CHILD, 6), "child");
	exit(60);
}

int main(int argc, char **argv)
{
	static unsigned char buf[NPAGES * PAGE];
	unsigned char *map;
	int sync[2], i, fd;
	pid_t pid;

	test_init(argc, argv);
	if (!getcwd(path, sizeof(path) - 16))
		fail("getcwd: %s", strerror(errno));
	strcat(path, "/shm.dat");
	for (i = 0; i < NPAGES; i++) {
		by[i] = FILE_SEED;
		pattern_fill(buf + i * PAGE, PAGE, seed(i, FILE_SEED));
	}
	write_file(path, buf, sizeof(buf));
	sync_open(sync);
	map = map_file();
	write_page(map, 1, 2);
	pid = xfork();
	if (!pid)
		child(map, sync);
	children_ready(sync, 1);
	by[2] = 3;
	if (pattern_check(map + 2 * PAGE, PAGE, seed(2, 3)) >= 0)
		fail("the child's write does not show before the dump");
	test_ready();
	test_wait();

	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	check(map, TO_PARENT, "parent");
	page_exchange(map + TO_CHILD * PAGE, seed(TO_CHILD, 6),
		      map + TO_PARENT * PAGE, seed(TO_PARENT, 5), "parent");
	child_reap(pid, 60);
	by[TO_PARENT] = 5;
	by[TO_CHILD] = 6;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != sizeof(buf))
		fail("reading %s: %s", path, strerror(errno));
	close(fd);
	for (i = 0; i < NPAGES; i++)
		if (pattern_check(buf + i * PAGE, PAGE, seed(i, by[i])) >= 0)
			fail("page %d of the file is not what was mapped", i);
	pass();
}
