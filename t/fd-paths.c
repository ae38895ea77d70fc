/* Files opened by relative path before a chdir, odd names (one ending in " (deleted)" but not deleted, also mapped shared), O_PATH fds (file, directory), O_NOATIME, O_DIRECT and a tmpfs directory read halfway come back as the same files with the same flags and offsets. */
#include "fdlib.h"
#include <sys/mman.h>
#include <sys/mount.h>

#define NDENTS 300

enum { REL, ODD, NL, PFILE, PDIR, NOATIME, DIRECT, TMPDIR, NFD };
static const char *const names[NFD] = {
	"d1/rel.dat (relative)", "d1/x (deleted)", "name with a newline",
	"O_PATH file", "O_PATH directory", "O_NOATIME", "O_DIRECT",
	"tmpfs directory",
};
static int fds[NFD];
static struct {
	int fl, fdfl;
	off_t pos;
	struct stat st;
	char link[512];
} was[NFD];

static void snap(int i)
{
	was[i].fl = fcntl(fds[i], F_GETFL);
	was[i].fdfl = fcntl(fds[i], F_GETFD);
	was[i].pos = lseek(fds[i], 0, SEEK_CUR);
	if (was[i].fl < 0 || fstat(fds[i], &was[i].st))
		fail("%s: %s", names[i], strerror(errno));
	fd_link(fds[i], was[i].link, sizeof(was[i].link));
}

/* Names left in a directory fd, read on from where it is. */
static void dir_rest(int fd, char *out, size_t size)
{
	char buf[4096] __attribute__((aligned(8)));
	size_t len = 0;
	long n, i;

	out[0] = 0;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i += *(unsigned short *)(buf + i + 16))
			len += snprintf(out + len, len < size ? size - len : 0,
					"%s/", buf + i + 19);
	if (n < 0)
		fail("getdents64: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	static char buf[3 * 4096], rest[NDENTS * 8], now_rest[NDENTS * 8];
	char path[128], link[512];
	struct stat cwd, now;
	bool direct;
	char *map;
	void *al;
	int i;

	test_init(argc, argv);
	if (mkdir("d1", 0755) || mkdir("d2", 0755))
		fail("mkdir: %s", strerror(errno));
	pattern_fill(buf, sizeof(buf), 1);
	write_file("d1/rel.dat", buf, 1000);
	write_file("d1/x (deleted)", buf, 200);
	write_file("d1/new\nline", buf, 300);
	write_file("d1/noatime.dat", buf, 400);
	write_file("d1/m (deleted)", buf, 4096);
	i = open("d1/m (deleted)", O_RDWR);
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, i, 0);
	if (i < 0 || map == MAP_FAILED)
		fail("mapping d1/m (deleted): %s", strerror(errno));
	close(i);

	/* opened by relative names from d1, then the cwd moves to d2 */
	if (chdir("d1"))
		fail("chdir: %s", strerror(errno));
	fds[REL] = open("rel.dat", O_RDWR);
	fds[ODD] = open("x (deleted)", O_RDONLY);
	fds[NL] = open("new\nline", O_RDONLY);
	fds[PFILE] = open("rel.dat", O_PATH);
	fds[PDIR] = open(".", O_PATH | O_DIRECTORY);
	fds[NOATIME] = open("noatime.dat", O_RDONLY | O_NOATIME);
	for (i = 0; i <= NOATIME; i++)
		if (fds[i] < 0)
			fail("open %s: %s", names[i], strerror(errno));
	if (chdir("../d2") || stat(".", &cwd))
		fail("chdir: %s", strerror(errno));
	lseek(fds[REL], 77, SEEK_SET);
	lseek(fds[ODD], 150, SEEK_SET);
	lseek(fds[NL], 3, SEEK_SET);
	lseek(fds[NOATIME], 399, SEEK_SET);

	/* O_DIRECT if this filesystem takes it */
	write_file("direct.dat", buf, sizeof(buf));
	fds[DIRECT] = open("direct.dat", O_RDWR | O_DIRECT);
	direct = fds[DIRECT] >= 0;
	if (!direct) {
		if (errno != EINVAL)
			fail("O_DIRECT: %s", strerror(errno));
		fds[DIRECT] = open("direct.dat", O_RDWR);
	}
	lseek(fds[DIRECT], 4096, SEEK_SET);

	/*
	 * A directory on a tmpfs of our own (t/run gives each run a mount
	 * namespace: nothing is left if we die), read partly.
	 */
	if (mkdir("tmp", 0755) || mount("tmpfs", "tmp", "tmpfs", 0, "size=1m"))
		fail("mounting a tmpfs on d2/tmp: %s", strerror(errno));
	for (i = 0; i < NDENTS; i++) {
		snprintf(path, sizeof(path), "tmp/f%03d", i);
		write_file(path, "", 0);
	}
	fds[TMPDIR] = open("tmp", O_RDONLY | O_DIRECTORY);
	i = open("tmp", O_RDONLY | O_DIRECTORY);
	if (fds[TMPDIR] < 0 || i < 0 ||
	    syscall(SYS_getdents64, fds[TMPDIR], buf, 1000) <= 0 ||
	    syscall(SYS_getdents64, i, buf, 1000) <= 0)
		fail("reading d2/tmp: %s", strerror(errno));
	dir_rest(i, rest, sizeof(rest));	/* what TMPDIR must read on */
	close(i);
	for (i = 0; i < NFD; i++)
		snap(i);
	test_ready();
	test_wait();

	for (i = 0; i < NFD; i++) {
		if (i == ODD)	/* last, below */
			continue;
		if (fstat(fds[i], &now))
			fail("%s: fstat: %s", names[i], strerror(errno));
		if (now.st_ino != was[i].st.st_ino ||
		    now.st_dev != was[i].st.st_dev ||
		    now.st_mode != was[i].st.st_mode)
			fail("%s is another file (ino %lu mode %o, was %lu %o)",
			     names[i], (unsigned long)now.st_ino, now.st_mode,
			     (unsigned long)was[i].st.st_ino,
			     was[i].st.st_mode);
		if (fcntl(fds[i], F_GETFL) != was[i].fl ||
		    fcntl(fds[i], F_GETFD) != was[i].fdfl ||
		    (!(was[i].fl & O_PATH) &&
		     lseek(fds[i], 0, SEEK_CUR) != was[i].pos))
			fail("%s: flags %#x fd flags %d offset %lld; were %#x "
			     "%d %lld", names[i], fcntl(fds[i], F_GETFL),
			     fcntl(fds[i], F_GETFD),
			     (long long)lseek(fds[i], 0, SEEK_CUR), was[i].fl,
			     was[i].fdfl, (long long)was[i].pos);
		if (strcmp(fd_link(fds[i], link, sizeof(link)), was[i].link))
			fail("%s is %s, was %s", names[i], link, was[i].link);
	}
	/* the cwd is still d2 */
	if (stat(".", &now) || now.st_ino != cwd.st_ino ||
	    !getcwd(link, sizeof(link)) || strcmp(strrchr(link, '/'), "/d2"))
		fail("cwd is %s, want .../d2", link);

	/* the data at the offsets */
	pattern_fill(buf, sizeof(buf), 1);
	if (read(fds[REL], now_rest, 10) != 10 ||
	    memcmp(now_rest, buf + 77, 10))
		fail("%s: data at 77 differs", names[REL]);
	if (read(fds[NL], now_rest, 10) != 10 || memcmp(now_rest, buf + 3, 10))
		fail("%s: data at 3 differs", names[NL]);
	if (read(fds[NOATIME], now_rest, 10) != 1 || now_rest[0] != buf[399])
		fail("%s: not the last byte", names[NOATIME]);

	/* O_PATH: no reading, but usable as a path */
	if (read(fds[PFILE], now_rest, 1) != -1 || errno != EBADF)
		fail("%s: read did not say EBADF", names[PFILE]);
	i = openat(fds[PDIR], "rel.dat", O_RDONLY);
	if (i < 0 || read(i, now_rest, 5) != 5 || memcmp(now_rest, buf, 5))
		fail("%s: openat rel.dat: %s", names[PDIR], strerror(errno));
	close(i);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[PFILE]);
	i = open(path, O_RDONLY);
	if (i < 0 || read(i, now_rest, 5) != 5 || memcmp(now_rest, buf, 5))
		fail("%s: reopening: %s", names[PFILE], strerror(errno));
	close(i);

	/* O_DIRECT: an aligned read at the offset */
	if (direct) {
		if (posix_memalign(&al, 4096, 4096))
			fail("posix_memalign");
		if (read(fds[DIRECT], al, 4096) != 4096 ||
		    memcmp(al, buf + 4096, 4096))
			fail("%s: aligned read: %s", names[DIRECT],
			     strerror(errno));
		free(al);
	}

	/* the tmpfs directory reads on where it was */
	dir_rest(fds[TMPDIR], now_rest, sizeof(now_rest));
	if (strcmp(now_rest, rest))
		fail("%s reads on with %.40s..., want %.40s...",
		     names[TMPDIR], now_rest, rest);
	close(fds[TMPDIR]);
	if (umount("tmp"))
		fail("umount d2/tmp: %s", strerror(errno));

	/* a file whose name ends in " (deleted)" is not deleted */
	if (fstat(fds[ODD], &now) || now.st_ino != was[ODD].st.st_ino ||
	    now.st_nlink != 1)
		fail("%s is another file (ino %lu links %lu, was %lu 1)",
		     names[ODD], (unsigned long)now.st_ino,
		     (unsigned long)now.st_nlink,
		     (unsigned long)was[ODD].st.st_ino);
	if (fcntl(fds[ODD], F_GETFL) != was[ODD].fl ||
	    read(fds[ODD], now_rest, 100) != 50 ||
	    memcmp(now_rest, buf + 150, 50))
		fail("%s: not the 50 bytes from 150", names[ODD]);
	if (strcmp(fd_link(fds[ODD], link, sizeof(link)), was[ODD].link))
		fail("%s is %s, was %s", names[ODD], link, was[ODD].link);
	/* and the mapping of "d1/m (deleted)" is that file's */
	memcpy(map + 100, "through the map", 15);
	i = open("../d1/m (deleted)", O_RDONLY);
	if (i < 0 || pread(i, link, 15, 100) != 15 ||
	    memcmp(link, "through the map", 15))
		fail("a write to the mapping of d1/m (deleted) does not reach "
		     "the file");
	close(i);
	if (!direct)
		t_puts("(O_DIRECT not supported here: not tested)\n");
	pass();
}
