/*
 * hugetlb memory comes back in huge pages of its own size, with its
 * contents: private MAP_HUGETLB memory (one page never touched), shared
 * MAP_HUGETLB memory a child shares with its parent, a SHM_HUGETLB
 * segment, an MFD_HUGETLB memfd, and a file on a hugetlbfs mount mapped
 * shared (its contents are the file's) and private (the pages written are
 * the process's own copies, the file keeps its own).  After restore every
 * mapping still has huge pages (KernelPageSize in smaps), takes writes,
 * and the child's writes to the shared memory show in the parent.
 *
 * The test reserves the huge pages it needs through the pool's
 * nr_hugepages and gives them back at the end.  Where it cannot, it says
 * SKIP, loudly: nothing was tested.  t/mm-hugetlb-1g.c is this test with
 * one 1 GiB page of private memory.
 */
#include "lib.h"
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>

#ifndef HP_SHIFT
#define HP_SHIFT 21		/* 2 MiB */
#endif
#define HP (1ul << HP_SHIFT)
#define HUGE_FLAG ((unsigned long)HP_SHIFT << 26)	/* MAP_/SHM_/MFD_HUGE_* */
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 4
#endif

static char nr_path[128];
static long nr_before = -1;

static long pool(const char *what)
{
	char path[160], buf[32];

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/%s",
		 HP >> 10, what);
	return read_file(path, buf, sizeof(buf)) > 0 ? atol(buf) : -1;
}

static void nr_set(long n)
{
	char buf[32];
	int fd = open(nr_path, O_WRONLY | O_CLOEXEC), len;

	len = snprintf(buf, sizeof(buf), "%ld\n", n);
	if (fd >= 0) {
		if (write(fd, buf, len) != len)
			len = -1;
		close(fd);
	}
}

/* At least n free huge pages, or SKIP. */
static void reserve(long n)
{
	long have;

	snprintf(nr_path, sizeof(nr_path),
		 "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages", HP >> 10);
	have = pool("free_hugepages") - pool("resv_hugepages");
	nr_before = pool("nr_hugepages");
	if (nr_before < 0)
		skip("HUGETLB NOT TESTED: this kernel has no huge pages of this size");
	if (have < n)
		nr_set(nr_before + n - have);
	if (pool("free_hugepages") - pool("resv_hugepages") < n) {
		nr_set(nr_before);
		skip("HUGETLB NOT TESTED: the huge pages it needs could not be reserved");
	}
}

static void give_back(void)
{
	if (nr_before >= 0)
		nr_set(nr_before);
}

/* The mapping at p has pages of HP bytes. */
static void check_huge(const void *p, const char *what)
{
	static char smaps[512 * 1024];
	char *line, *next;
	int in = 0;

	if (read_file("/proc/self/smaps", smaps, sizeof(smaps)) < 0)
		fail("read smaps: %s", strerror(errno));
	for (line = smaps; *line; line = next) {
		unsigned long s, e, kb;

		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') <
		    strchr(line, ' '))
			in = (unsigned long)p >= s && (unsigned long)p < e;
		else if (in && sscanf(line, "KernelPageSize: %lu kB", &kb) == 1) {
			if (kb << 10 != HP)
				fail("%s: %lu kB pages, want %lu", what, kb, HP >> 10);
			return;
		}
	}
	fail("%s: %p is not mapped", what, p);
}

static void *map(size_t len, int flags, int fd, const char *what)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);

	if (p == MAP_FAILED)
		fail("mmap %s: %s", what, strerror(errno));
	return p;
}

static void check(const void *p, size_t len, uint64_t seed, const char *what)
{
	long off = pattern_check(p, len, seed);

	if (off >= 0)
		fail("%s differs at %ld", what, off);
	check_huge(p, what);
}

#ifndef ONLY_PRIVATE
static char *shared;	/* parent and child: page 0 the parent's, 1 the child's */

static void child(int sync[2])
{
	pattern_fill(shared + HP, HP / 2, 21);
	child_ready(sync);
	test_wait();
	check(shared, HP / 2, 20, "child: shared memory, parent's half");
	check(shared + HP, HP / 2, 21, "child: shared memory, own half");
	page_exchange(shared + HP + HP / 2, 23, shared + HP / 2, 22, "child");
	exit(50);
}
#endif

int main(int argc, char **argv)
{
	char *priv;

	test_init(argc, argv);
#ifdef ONLY_PRIVATE
	reserve(1);
	priv = map(HP, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | HUGE_FLAG,
		   -1, "private");
	pattern_fill(priv, 4 * PAGE, 1);
	pattern_fill(priv + HP - 4 * PAGE, 4 * PAGE, 2);
	test_ready();
	test_wait();
	check(priv, 4 * PAGE, 1, "private memory, head");
	check(priv + HP - 4 * PAGE, 4 * PAGE, 2, "private memory, tail");
	if (zero_check(priv + 4 * PAGE, HP / 2) >= 0)
		fail("private memory: untouched part is not zero");
	pattern_fill(priv + HP / 2, PAGE, 3);
	check(priv + HP / 2, PAGE, 3, "private memory after a write");
	munmap(priv, HP);
	give_back();
	pass();
#else
	char dir[64], file[96], *sysv, *mfd, *fsh, *fpriv;
	int sync[2], id, fd;
	pid_t pid;

	/* private 3 + shared 2 + SysV 1 + memfd 1 + file 2 + private file 2,
	 * and the child's private ones once more: restore makes them anew */
	reserve(16);
	snprintf(dir, sizeof(dir), "/tmp/cr-hugetlbfs.%d", (int)getpid());
	snprintf(file, sizeof(file), "%s/f", dir);
	if (mkdir(dir, 0700) ||
	    mount("none", dir, "hugetlbfs", 0, HP_SHIFT == 21 ? "pagesize=2M" : "pagesize=1G"))
		fail("mounting hugetlbfs on %s: %s", dir, strerror(errno));

	priv = map(3 * HP, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | HUGE_FLAG,
		   -1, "private");
	pattern_fill(priv, HP, 1);
	pattern_fill(priv + 2 * HP + 100 * PAGE, PAGE, 2);	/* page 1: none */

	shared = map(2 * HP, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | HUGE_FLAG,
		     -1, "shared");
	pattern_fill(shared, HP / 2, 20);

	id = shmget(IPC_PRIVATE, HP, IPC_CREAT | 0600 | SHM_HUGETLB | HUGE_FLAG);
	if (id < 0)
		fail("shmget SHM_HUGETLB: %s", strerror(errno));
	sysv = shmat(id, NULL, 0);
	if (sysv == (void *)-1)
		fail("shmat: %s", strerror(errno));
	shmctl(id, IPC_RMID, NULL);
	pattern_fill(sysv, HP, 3);

	fd = memfd_create("huge", MFD_HUGETLB | HUGE_FLAG);
	if (fd < 0 || ftruncate(fd, HP))
		fail("memfd_create MFD_HUGETLB: %s", strerror(errno));
	mfd = map(HP, MAP_SHARED, fd, "memfd");
	close(fd);
	pattern_fill(mfd, HP, 4);

	fd = open(file, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 2 * HP))
		fail("%s: %s", file, strerror(errno));
	fsh = map(2 * HP, MAP_SHARED, fd, "hugetlbfs file, shared");
	fpriv = map(2 * HP, MAP_PRIVATE, fd, "hugetlbfs file, private");
	close(fd);
	pattern_fill(fsh, 2 * HP, 5);
	pattern_fill(fpriv + HP, PAGE, 6);	/* page 1 a private copy */

	sync_open(sync);
	pid = xfork();
	if (!pid)
		child(sync);
	children_ready(sync, 1);
	test_ready();
	test_wait();

	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	check(priv, HP, 1, "private memory, page 0");
	check(priv + 2 * HP + 100 * PAGE, PAGE, 2, "private memory, page 2");
	if (zero_check(priv + HP, HP) >= 0)
		fail("private memory: untouched page 1 is not zero");
	pattern_fill(priv + HP, PAGE, 7);	/* new writes work */
	check(priv + HP, PAGE, 7, "private memory after a write");
	check(sysv, HP, 3, "SHM_HUGETLB segment");
	check(mfd, HP, 4, "MFD_HUGETLB memfd");
	check(fsh, 2 * HP, 5, "hugetlbfs file, shared");
	check(fpriv, HP, 5, "hugetlbfs file, private, page 0 (the file's)");
	check(fpriv + HP, PAGE, 6, "hugetlbfs file, private, page 1 (own copy)");
	if (!memcmp(fsh + HP, fpriv + HP, PAGE))
		fail("hugetlbfs file: the private copy's write reached the file");
	check_shared_map(shared, NULL, "parent");
	check(shared, HP / 2, 20, "parent: shared memory, own half");
	page_exchange(shared + HP / 2, 22, shared + HP + HP / 2, 23, "parent");
	check(shared + HP, HP / 2, 21, "parent: shared memory, child's half");
	child_reap(pid, 50);
	shmdt(sysv);
	munmap(fsh, 2 * HP);
	munmap(fpriv, 2 * HP);
	unlink(file);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	give_back();
	pass();
#endif
}
