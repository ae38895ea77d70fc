/* memfds keep name, contents, size, mode, seals, flags and offset; one mapped shared by parent and child with an fd in each stays one file; one only mapped keeps its contents. */
#include "fdlib.h"
#include <sys/mman.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

#define M1_LEN (3 * PAGE + 100)
#define M2_LEN 4000
#define M3_LEN 65536
#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

enum { M1, M2, M3, M4, M6, NM };
static const char *const names[NM] = {
	"cr t.data", "sealed", "plain", "shared", "noexec",
};
static int fds[NM];
static struct {
	int seals, fl, fdfl;
	off_t pos;
	struct stat st;
} was[NM];
static char *shared, *maponly;

static int mfd(const char *name, unsigned flags)
{
	int fd = memfd_create(name, flags);

	if (fd < 0)
		fail("memfd_create %s: %s", name, strerror(errno));
	return fd;
}

static void fill(int fd, size_t len, uint64_t seed)
{
	static char buf[4 * PAGE];

	pattern_fill(buf, len, seed);
	if (write(fd, buf, len) != (ssize_t)len)
		fail("write: %s", strerror(errno));
}

static void seal(int fd, int seals, const char *what)
{
	if (fcntl(fd, F_ADD_SEALS, seals))
		fail("%s: F_ADD_SEALS %#x: %s", what, seals, strerror(errno));
}

/* What the memfd is: name, size, mode, seals, flags, offset. */
static void expect_same(int i)
{
	char link[512], want[512];
	struct stat st;

	snprintf(want, sizeof(want), "/memfd:%s (deleted)", names[i]);
	if (strcmp(fd_link(fds[i], link, sizeof(link)), want))
		fail("%s is %s, want %s", names[i], link, want);
	if (fstat(fds[i], &st))
		fail("%s: fstat: %s", names[i], strerror(errno));
	if (st.st_size != was[i].st.st_size || st.st_mode != was[i].st.st_mode)
		fail("%s: size %lld mode %o, was %lld %o", names[i],
		     (long long)st.st_size, st.st_mode,
		     (long long)was[i].st.st_size, was[i].st.st_mode);
	if (fcntl(fds[i], F_GET_SEALS) != was[i].seals)
		fail("%s: seals %#x, were %#x", names[i],
		     fcntl(fds[i], F_GET_SEALS), was[i].seals);
	if (fcntl(fds[i], F_GETFL) != was[i].fl ||
	    fcntl(fds[i], F_GETFD) != was[i].fdfl ||
	    lseek(fds[i], 0, SEEK_CUR) != was[i].pos)
		fail("%s: flags %#x fd flags %d offset %lld; were %#x %d %lld",
		     names[i], fcntl(fds[i], F_GETFL), fcntl(fds[i], F_GETFD),
		     (long long)lseek(fds[i], 0, SEEK_CUR), was[i].fl,
		     was[i].fdfl, (long long)was[i].pos);
}

static void expect_data(int i, size_t len, uint64_t seed)
{
	static char buf[4 * PAGE];
	long bad;

	if (pread(fds[i], buf, len, 0) != (ssize_t)len)
		fail("%s: pread: %s", names[i], strerror(errno));
	if ((bad = pattern_check(buf, len, seed)) >= 0)
		fail("%s: byte %ld differs", names[i], bad);
}

/* op must fail with EPERM: a seal forbids it. */
static void expect_eperm(long r, const char *what)
{
	if (r != -1 || errno != EPERM)
		fail("%s: %ld (%s), want EPERM", what, r,
		     r < 0 ? strerror(errno) : "done");
}

static void check_maps(const char *who)
{
	struct vma v;

	check_shared_map(shared, "/memfd:shared (deleted)", who);
	if (maponly && (vma_find((unsigned long)maponly, NULL, &v) ||
			strcmp(v.prot, "rw-s") ||
			strcmp(v.path, "/memfd:maponly (deleted)")))
		fail("%s: maponly is %s %s", who, v.prot, v.path);
}

static void child(int sync[2])
{
	maponly = NULL;		/* the parent's only */
	pattern_fill(shared + PAGE, PAGE, 11);
	child_ready(sync);
	test_wait();

	check_maps("child");
	if (pattern_check(shared, PAGE, 10) >= 0 ||
	    pattern_check(shared + PAGE, PAGE, 11) >= 0)
		fail("child: shared memfd content before the dump lost");
	page_exchange(shared + 3 * PAGE, 31, shared + 2 * PAGE, 30, "child");
	/* through the fd: the parent sees it in its mapping */
	if (pwrite(fds[M4], "from the child", 14, 100) != 14)
		fail("child: pwrite: %s", strerror(errno));
	exit(90);
}

int main(int argc, char **argv)
{
	static char buf[M3_LEN];
	bool noexec = true;
	long long end;
	int sync[2], i;
	pid_t pid;

	test_init(argc, argv);
	fds[M1] = mfd(names[M1], MFD_ALLOW_SEALING);
	fill(fds[M1], M1_LEN, 1);
	seal(fds[M1], F_SEAL_SHRINK | F_SEAL_GROW, names[M1]);
	lseek(fds[M1], 5000, SEEK_SET);
	fds[M2] = mfd(names[M2], MFD_ALLOW_SEALING | MFD_CLOEXEC);
	fill(fds[M2], M2_LEN, 2);
	seal(fds[M2], ALL_SEALS, names[M2]);
	lseek(fds[M2], 10, SEEK_SET);
	fds[M3] = mfd(names[M3], MFD_CLOEXEC);
	if (ftruncate(fds[M3], M3_LEN) ||
	    pwrite(fds[M3], "marker", 6, 40000) != 6)
		fail("plain: %s", strerror(errno));
	fds[M4] = mfd(names[M4], MFD_ALLOW_SEALING);
	if (ftruncate(fds[M4], 4 * PAGE))
		fail("ftruncate: %s", strerror(errno));
	shared = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fds[M4], 0);
	seal(fds[M4], F_SEAL_SHRINK | F_SEAL_GROW, names[M4]);
	fds[M6] = memfd_create(names[M6], MFD_NOEXEC_SEAL);
	if (fds[M6] < 0) {	/* before 6.3: not there */
		noexec = false;
		fds[M6] = mfd(names[M6], 0);
	}
	i = mfd("maponly", 0);
	if (ftruncate(i, PAGE))
		fail("ftruncate: %s", strerror(errno));
	maponly = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, i, 0);
	close(i);
	if (shared == MAP_FAILED || maponly == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	pattern_fill(maponly, PAGE, 12);
	pattern_fill(shared, PAGE, 10);
	for (i = 0; i < NM; i++) {
		was[i].seals = fcntl(fds[i], F_GET_SEALS);
		was[i].fl = fcntl(fds[i], F_GETFL);
		was[i].fdfl = fcntl(fds[i], F_GETFD);
		was[i].pos = lseek(fds[i], 0, SEEK_CUR);
		if (fstat(fds[i], &was[i].st))
			fail("fstat: %s", strerror(errno));
	}
	if (was[M3].seals != F_SEAL_SEAL || was[M2].seals != ALL_SEALS ||
	    (noexec && !(was[M6].seals & F_SEAL_EXEC)))
		fail("seals %#x %#x %#x", was[M3].seals, was[M2].seals,
		     was[M6].seals);

	sync_open(sync);
	pid = xfork();
	if (!pid)
		child(sync);
	children_ready(sync, 1);
	test_ready();
	test_wait();

	for (i = 0; i < M6; i++)
		expect_same(i);
	expect_data(M1, M1_LEN, 1);
	expect_data(M2, M2_LEN, 2);
	if (pread(fds[M3], buf, M3_LEN, 0) != M3_LEN ||
	    memcmp(buf + 40000, "marker", 6) ||
	    (memset(buf + 40000, 0, 6), zero_check(buf, M3_LEN) >= 0))
		fail("plain: content is not zeros and the marker");

	/* the seals hold, and only them */
	expect_eperm(pwrite(fds[M1], "x", 1, M1_LEN), "cr t.data: growing");
	expect_eperm(ftruncate(fds[M1], 10), "cr t.data: shrinking");
	if (write(fds[M1], "in place", 8) != 8 ||
	    pread(fds[M1], buf, 8, 5000) != 8 || memcmp(buf, "in place", 8))
		fail("cr t.data: writing at the offset: %s", strerror(errno));
	seal(fds[M1], F_SEAL_WRITE, "cr t.data after restore");
	expect_eperm(write(fds[M1], "x", 1), "cr t.data: write after sealing");
	expect_eperm(pwrite(fds[M2], "x", 1, 0), "sealed: writing");
	expect_eperm(fcntl(fds[M2], F_ADD_SEALS, F_SEAL_GROW),
		     "sealed: adding a seal");
	if (mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[M2], 0) !=
	    MAP_FAILED)
		fail("sealed: a writable shared mapping was allowed");
	expect_eperm(fcntl(fds[M3], F_ADD_SEALS, F_SEAL_GROW),
		     "plain: adding a seal");
	if (ftruncate(fds[M3], 2 * M3_LEN))
		fail("plain: growing: %s", strerror(errno));

	/* shared with the child: mapping and fd are one file */
	check_maps("parent");
	if (!same_file(getpid(), fds[M4], pid, fds[M4]))
		fail("the memfd fds of parent and child are not one file");
	if (pattern_check(shared, PAGE, 10) >= 0 ||
	    pattern_check(shared + PAGE, PAGE, 11) >= 0)
		fail("shared memfd content before the dump lost");
	if (pattern_check(maponly, PAGE, 12) >= 0)
		fail("maponly content lost");
	expect_eperm(ftruncate(fds[M4], 5 * PAGE), "shared: growing");
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	page_exchange(shared + 2 * PAGE, 30, shared + 3 * PAGE, 31, "parent");
	end = mono_ns() + 10 * NS_PER_SEC;
	while (memcmp(shared + 100, "from the child", 14)) {
		if (mono_ns() > end)
			fail("the child's write through its fd never showed");
		sleep_us(1000);
	}
	child_reap(pid, 90);

	/* MFD_NOEXEC_SEAL: mode 0666 and F_SEAL_EXEC */
	expect_same(M6);
	if (noexec)
		expect_eperm(fchmod(fds[M6], 0777), "noexec: chmod +x");
	pass();
}
