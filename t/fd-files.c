/* Regular file, directory and device fds keep flags, offsets, shared offsets, cloexec and identity. */
#include "lib.h"
#include <sys/stat.h>

struct f {
	const char *what;
	int fd;
	int fl, fdfl;
	off_t pos;
	struct stat st;
};

enum { AP, RW, RWDUP, RO, HI, DIR_, DNULL, DZERO, DURND, DRND, NF };
static struct f fds[NF];
static char rest[4096];

#define DENTS_MAX 4096

struct dent64 {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* Append the names of the entries from one getdents64 call; bytes read. */
static long dents(int fd, size_t bufsz, char *names, size_t size)
{
	char buf[DENTS_MAX] __attribute__((aligned(8)));
	long n = syscall(SYS_getdents64, fd, buf, bufsz), i;

	if (n < 0)
		fail("getdents64: %s", strerror(errno));
	for (i = 0; i < n; i += ((struct dent64 *)(buf + i))->reclen) {
		size_t len = strlen(names);

		snprintf(names + len, size - len, "%s/",
			 ((struct dent64 *)(buf + i))->name);
	}
	return n;
}

static void dir_rest(int fd, char *names, size_t size)
{
	names[0] = 0;
	while (dents(fd, DENTS_MAX, names, size) > 0)
		;
}

static void add(int i, const char *what, int fd)
{
	if (fd < 0)
		fail("open %s: %s", what, strerror(errno));
	fds[i].what = what;
	fds[i].fd = fd;
}

static void snap(struct f *f)
{
	f->fl = fcntl(f->fd, F_GETFL);
	f->fdfl = fcntl(f->fd, F_GETFD);
	f->pos = lseek(f->fd, 0, SEEK_CUR);
	if (f->fl < 0 || f->fdfl < 0 || fstat(f->fd, &f->st))
		fail("fd %d (%s): %s", f->fd, f->what, strerror(errno));
}

static void expect(int i, int flmask, int fl, int fdfl, off_t pos)
{
	struct f *f = &fds[i];

	if ((f->fl & flmask) != fl || f->fdfl != fdfl || f->pos != pos)
		fail("%s: flags %#x fd flags %d offset %lld, want %#x %d %lld",
		     f->what, f->fl & flmask, f->fdfl, (long long)f->pos, fl,
		     fdfl, (long long)pos);
}

static void xread(int fd, void *buf, size_t len, const char *what)
{
	if (read(fd, buf, len) != (ssize_t)len)
		fail("read %s: %s", what, strerror(errno));
}

int main(int argc, char **argv)
{
	const int acc = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECTORY;
	char buf[8192], names[4096];
	struct f now;
	int i, fd;

	test_init(argc, argv);
	add(AP, "append", open("append.dat", O_WRONLY | O_APPEND | O_CREAT |
			       O_TRUNC, 0644));
	pattern_fill(buf, 1000, 1);
	if (write(fds[AP].fd, buf, 1000) != 1000)
		fail("write: %s", strerror(errno));
	pattern_fill(buf, 8192, 2);
	write_file("rdwr.dat", buf, 8192);
	add(RW, "rdwr", open("rdwr.dat", O_RDWR));
	lseek(fds[RW].fd, 3333, SEEK_SET);
	add(RWDUP, "rdwr dup", dup(fds[RW].fd));
	pattern_fill(buf, 4096, 3);
	write_file("rdonly.dat", buf, 4096);
	add(RO, "rdonly", open("rdonly.dat", O_RDONLY | O_NONBLOCK));
	write_file("cloexec.dat", buf, 100);
	fd = open("cloexec.dat", O_RDWR);
	if (fd < 0 || lseek(fd, 77, SEEK_SET) != 77)
		fail("cloexec.dat: %s", strerror(errno));
	add(HI, "fd 100", dup3(fd, 100, O_CLOEXEC));
	close(fd);

	if (mkdir("d", 0755))
		fail("mkdir: %s", strerror(errno));
	for (i = 0; i < 40; i++) {
		snprintf(names, sizeof(names), "d/file-%02d", i);
		write_file(names, "", 0);
	}
	add(DIR_, "dir", open("d", O_RDONLY | O_DIRECTORY));
	fd = open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	names[0] = 0;
	if (fd < 0 || dents(fds[DIR_].fd, 200, names, sizeof(names)) <= 0 ||
	    dents(fd, 200, names, sizeof(names)) <= 0)
		fail("reading d: %s", strerror(errno));
	dir_rest(fd, rest, sizeof(rest));	/* what fds[DIR_] must see */
	close(fd);

	add(DNULL, "/dev/null", open("/dev/null", O_RDWR));
	add(DZERO, "/dev/zero", open("/dev/zero", O_RDONLY));
	add(DURND, "/dev/urandom", open("/dev/urandom", O_RDONLY));
	add(DRND, "/dev/random", open("/dev/random", O_RDONLY | O_NONBLOCK));
	for (i = 0; i < NF; i++)
		snap(&fds[i]);
	expect(AP, acc, O_WRONLY | O_APPEND, 0, 1000);
	expect(RW, acc, O_RDWR, 0, 3333);
	expect(RWDUP, acc, O_RDWR, 0, 3333);
	expect(RO, acc, O_RDONLY | O_NONBLOCK, 0, 0);
	expect(HI, acc, O_RDWR, FD_CLOEXEC, 77);
	expect(DIR_, acc & ~O_DIRECTORY, O_RDONLY, 0, fds[DIR_].pos);

	test_ready();
	test_wait();

	for (i = 0; i < NF; i++) {
		struct f *f = &fds[i];

		now = *f;
		snap(&now);
		if (now.fl != f->fl || now.fdfl != f->fdfl || now.pos != f->pos)
			fail("%s (fd %d): flags %#x fd flags %d offset %lld, "
			     "was %#x %d %lld", f->what, f->fd, now.fl,
			     now.fdfl, (long long)now.pos, f->fl, f->fdfl,
			     (long long)f->pos);
		if (now.st.st_dev != f->st.st_dev ||
		    now.st.st_ino != f->st.st_ino ||
		    now.st.st_rdev != f->st.st_rdev ||
		    (now.st.st_mode & S_IFMT) != (f->st.st_mode & S_IFMT))
			fail("%s (fd %d) is another file", f->what, f->fd);
		if (S_ISREG(f->st.st_mode) && now.st.st_size != f->st.st_size)
			fail("%s size %lld, was %lld", f->what,
			     (long long)now.st.st_size,
			     (long long)f->st.st_size);
	}

	/* O_APPEND appends, dup shares the offset, the data is there */
	if (write(fds[AP].fd, "TAIL", 4) != 4 ||
	    lseek(fds[AP].fd, 0, SEEK_CUR) != 1004)
		fail("append: %s", strerror(errno));
	fd = open("append.dat", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, buf, 1004, 0) != 1004 ||
	    pattern_check(buf, 1000, 1) >= 0 || memcmp(buf + 1000, "TAIL", 4))
		fail("append.dat content wrong after append");
	close(fd);
	xread(fds[RW].fd, buf, 100, "rdwr");
	pattern_fill(buf + 100, 8192, 2);
	if (memcmp(buf, buf + 100 + 3333, 100))
		fail("rdwr data at 3333 wrong");
	if (lseek(fds[RWDUP].fd, 0, SEEK_CUR) != 3433)
		fail("dup'ed fd does not share the offset");
	xread(fds[RO].fd, buf, 10, "rdonly");
	pattern_fill(buf + 100, 10, 3);
	if (memcmp(buf, buf + 100, 10))
		fail("rdonly data wrong");
	xread(fds[HI].fd, buf, 23, "fd 100");
	if (read(fds[HI].fd, buf, 1) != 0)
		fail("fd 100 not at offset 77 of 100");
	dir_rest(fds[DIR_].fd, names, sizeof(names));
	if (strcmp(names, rest))
		fail("directory read continues with %.60s, want %.60s", names,
		     rest);

	memset(buf, 0xaa, 64);
	xread(fds[DZERO].fd, buf, 64, "/dev/zero");
	if (zero_check(buf, 64) >= 0)
		fail("/dev/zero gave non-zero data");
	if (read(fds[DNULL].fd, buf, 10) != 0 ||
	    write(fds[DNULL].fd, buf, 10) != 10)
		fail("/dev/null misbehaves");
	xread(fds[DURND].fd, buf, 64, "/dev/urandom");
	xread(fds[DURND].fd, buf + 64, 64, "/dev/urandom");
	xread(fds[DRND].fd, buf + 128, 16, "/dev/random");
	if (!memcmp(buf, buf + 64, 64))
		fail("/dev/urandom repeats itself");
	pass();
}
