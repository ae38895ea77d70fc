/* Unlinked files (one opened twice, one mapped private, one mapped shared by parent and child, with an fd) keep content, size, mode, flags, offsets, names "(deleted)" and sharing; nothing is left on disk. */
#include "fdlib.h"
#include <sys/mman.h>

#define A_LEN 10000

enum { A, A2, E, NFD };
static const char *const names[NFD] = { "gh/a", "gh/a opened again", "gh/m2" };
static int fds[NFD];
static struct stat st[NFD];
static char links[NFD][512];
static int fl[NFD];
static char *priv, *shared;	/* gh/m1 (3 pages), gh/m2 (4 pages) */
static char priv_path[512], shared_path[512];

static int create(const char *path, size_t len, uint64_t seed, int mode)
{
	static char buf[4 * PAGE];
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);

	pattern_fill(buf, len, seed);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fchmod(fd, mode))
		fail("creating %s: %s", path, strerror(errno));
	return fd;
}

/* len bytes at off of fd must be pattern seed from pat_off on. */
static void expect_data(int fd, off_t off, size_t len, uint64_t seed,
			off_t pat_off, const char *what)
{
	static char buf[16384], want[16384];
	long bad;

	pattern_fill(want, pat_off + len, seed);
	if (pread(fd, buf, len, off) != (ssize_t)len)
		fail("%s: pread %zu at %lld: %s", what, len, (long long)off,
		     strerror(errno));
	bad = mem_diff(buf, want + pat_off, len);
	if (bad >= 0)
		fail("%s: byte %lld differs", what, (long long)(off + bad));
}

/* fd i must be the same unlinked file, same offset and name as before. */
static void expect_fd(int i, off_t pos)
{
	char link[512];
	struct stat now;

	if (fstat(fds[i], &now))
		fail("%s: fstat: %s", names[i], strerror(errno));
	if (now.st_size != st[i].st_size || now.st_mode != st[i].st_mode ||
	    now.st_nlink != 0 || now.st_uid != st[i].st_uid)
		fail("%s: size %lld mode %o links %lu uid %d; was %lld %o 0 %d",
		     names[i], (long long)now.st_size, now.st_mode,
		     (unsigned long)now.st_nlink, (int)now.st_uid,
		     (long long)st[i].st_size, st[i].st_mode, (int)st[i].st_uid);
	if (fcntl(fds[i], F_GETFL) != fl[i])
		fail("%s: flags %#x, were %#x", names[i],
		     fcntl(fds[i], F_GETFL), fl[i]);
	if (lseek(fds[i], 0, SEEK_CUR) != pos)
		fail("%s: offset %lld, want %lld", names[i],
		     (long long)lseek(fds[i], 0, SEEK_CUR), (long long)pos);
	if (strcmp(fd_link(fds[i], link, sizeof(link)), links[i]))
		fail("%s is %s, was %s", names[i], link, links[i]);
}

static void check_maps(void)
{
	struct vma v;

	if (vma_find((unsigned long)priv, NULL, &v) ||
	    v.start != (unsigned long)priv || strcmp(v.prot, "rw-p") ||
	    strcmp(v.path, priv_path))
		fail("private mapping is %lx %s %s, want %p rw-p %s", v.start,
		     v.prot, v.path, (void *)priv, priv_path);
	check_shared_map(shared, shared_path, "shared mapping");
}

static void child(int sync[2])
{
	close(fds[E]);
	pattern_fill(priv, PAGE, 7);		/* its own copy of page 0 */
	pattern_fill(shared + PAGE, PAGE, 8);
	child_ready(sync);
	test_wait();

	check_maps();
	if (pattern_check(priv, PAGE, 7) >= 0 ||
	    pattern_check(priv + PAGE, PAGE, 5) >= 0)
		fail("child: private mapping content lost");
	if (pattern_check(shared, PAGE, 6) >= 0)
		fail("child: the parent's page of the shared mapping differs");
	page_exchange(shared + 3 * PAGE, 31, shared + 2 * PAGE, 30, "child");
	exit(70);
}

int main(int argc, char **argv)
{
	static char buf[4 * PAGE], left[4096], cwd[256];
	int sync[2], fd, i;
	long bad;
	pid_t pid;

	test_init(argc, argv);
	if (mkdir("gh", 0755))
		fail("mkdir: %s", strerror(errno));
	fds[A] = create("gh/a", A_LEN, 1, 0640);
	fds[A2] = open("gh/a", O_RDONLY | O_NOATIME);
	if (fds[A2] < 0)
		fail("open: %s", strerror(errno));
	if (lseek(fds[A], 1234, SEEK_SET) != 1234 ||
	    lseek(fds[A2], 500, SEEK_SET) != 500)
		fail("lseek: %s", strerror(errno));

	/* mapped: m1 private (page 1 changed), m2 shared, fd kept */
	fd = create("gh/m1", 3 * PAGE, 4, 0600);
	priv = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
		    0);
	close(fd);
	fds[E] = create("gh/m2", 4 * PAGE, 6, 0600);
	shared = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      fds[E], 0);
	if (priv == MAP_FAILED || shared == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	pattern_fill(priv + PAGE, PAGE, 5);
	if (unlink("gh/a") || unlink("gh/m1") || unlink("gh/m2"))
		fail("unlink: %s", strerror(errno));
	for (i = 0; i < NFD; i++) {
		if (fstat(fds[i], &st[i]))
			fail("fstat: %s", strerror(errno));
		fd_link(fds[i], links[i], sizeof(links[i]));
		fl[i] = fcntl(fds[i], F_GETFL);
		if (!strstr(links[i], " (deleted)"))
			fail("%s is %s: not deleted", names[i], links[i]);
	}
	if (!getcwd(cwd, sizeof(cwd)))
		fail("getcwd: %s", strerror(errno));
	snprintf(priv_path, sizeof(priv_path), "%s/gh/m1 (deleted)", cwd);
	snprintf(shared_path, sizeof(shared_path), "%s", links[E]);

	sync_open(sync);
	pid = xfork();
	if (!pid)
		child(sync);
	children_ready(sync, 1);
	check_maps();
	test_ready();
	test_wait();

	/* each fd: the file, its offset, its content */
	expect_fd(A, 1234);
	expect_fd(A2, 500);
	expect_fd(E, 4 * PAGE);
	expect_data(fds[A], 0, A_LEN, 1, 0, names[A]);
	if (read(fds[A2], buf, 100) != 100)
		fail("%s: read: %s", names[A2], strerror(errno));
	pattern_fill(buf + 100, 600, 1);
	if ((bad = mem_diff(buf, buf + 100 + 500, 100)) >= 0)
		fail("%s: read at %ld differs", names[A2], 500 + bad);
	if (write(fds[A2], "x", 1) != -1 || errno != EBADF)
		fail("%s: write on a read-only fd did not say EBADF",
		     names[A2]);

	/* both opens of gh/a are one inode: a write shows in the other */
	{
		struct stat s1, s2;

		if (fstat(fds[A], &s1) || fstat(fds[A2], &s2) ||
		    s1.st_ino != s2.st_ino || s1.st_dev != s2.st_dev)
			fail("the two opens of gh/a are different files now");
	}
	if (write(fds[A], "WRITTEN", 7) != 7 ||
	    pread(fds[A2], buf, 7, 1234) != 7 || memcmp(buf, "WRITTEN", 7))
		fail("a write to gh/a is not seen through its other open");
	if (lseek(fds[A2], 0, SEEK_CUR) != 600)
		fail("the other open of gh/a shares the offset");
	if (pwrite(fds[A], "TAIL", 4, A_LEN) != 4 ||
	    lseek(fds[A2], 0, SEEK_END) != A_LEN + 4)
		fail("gh/a: appending: %s", strerror(errno));
	if (!same_file(getpid(), fds[A], pid, fds[A]) ||
	    !same_file(getpid(), fds[A2], pid, fds[A2]))
		fail("parent and child do not share the open files");

	/* the mappings */
	check_maps();
	if (pattern_check(priv, PAGE, 4) >= 0 ||
	    pattern_check(priv + PAGE, PAGE, 5) >= 0)
		fail("private mapping: the changed page or page 0 is wrong");
	pattern_fill(buf, 3 * PAGE, 4);
	if (mem_diff(priv + 2 * PAGE, buf + 2 * PAGE, PAGE) >= 0)
		fail("private mapping: page 2 (the file's) is wrong");
	if (pattern_check(shared, PAGE, 6) >= 0 ||
	    pattern_check(shared + PAGE, PAGE, 8) >= 0)
		fail("shared mapping: content before the dump lost");
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	page_exchange(shared + 2 * PAGE, 30, shared + 3 * PAGE, 31, "parent");
	child_reap(pid, 70);
	if (pwrite(fds[E], "via fd", 6, 10) != 6 || memcmp(shared + 10,
							   "via fd", 6))
		fail("a write to gh/m2's fd does not show in its mapping");

	/* no trace on disk */
	dir_names("gh", left, sizeof(left));
	if (left[0])
		fail("gh holds %s: want nothing", left);
	pass();
}
