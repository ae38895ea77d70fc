/* FIFOs opened by path keep their queued data (in order, exactly), capacity, O_NONBLOCK and identity with the path; a writer in the child and a reader in the parent still meet, and EOF comes when the last writer closes. */
#include "fdlib.h"
#include <sys/ioctl.h>

#define CAP (128 * 1024)
#define N1 100000		/* written to ff before the dump */
#define R1 1000			/* of which read before the dump */
#define N2 3000			/* written to ff2 by the child before */
#define N3 2000			/* and after restore */

static int queued(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n))
		fail("FIONREAD: %s", strerror(errno));
	return n;
}

/* fd must be the FIFO at path (same inode), with flags fl. */
static void expect_fifo(int fd, const char *path, int fl, const char *what)
{
	struct stat a, b;

	if (fstat(fd, &a) || stat(path, &b))
		fail("%s: stat: %s", what, strerror(errno));
	if (!S_ISFIFO(a.st_mode) || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)
		fail("%s: not the FIFO %s (mode %o ino %lu, path's %lu)", what,
		     path, a.st_mode, (unsigned long)a.st_ino,
		     (unsigned long)b.st_ino);
	expect_fl(fd, O_ACCMODE | O_NONBLOCK, fl, what);
}

/* Read until EOF, at most max bytes. */
static size_t read_to_eof(int fd, char *buf, size_t max, const char *what)
{
	size_t n = 0;
	ssize_t k;

	while (n < max) {
		k = read(fd, buf + n, max - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			fail("%s: read: %s", what, strerror(errno));
		if (!k)
			break;
		n += k;
	}
	return n;
}

static void child(int w2, int sync[2])
{
	static char data[N2 + N3];

	pattern_fill(data, sizeof(data), 3);
	write_exact(w2, data, N2, "child: ff2");
	child_ready(sync);
	test_wait();

	expect_fifo(w2, "ff2", O_WRONLY, "child: ff2 writer");
	write_exact(w2, data + N2, N3, "child: ff2");
	exit(33);
}

int main(int argc, char **argv)
{
	static char data[N1 + 500], buf[N1 + 500];
	int r, w, r2, w2, rw, sync[2], fd;
	pid_t pid;
	long bad;

	test_init(argc, argv);
	if (mkfifo("ff", 0640) || mkfifo("ff2", 0600) || mkfifo("ff3", 0600))
		fail("mkfifo: %s", strerror(errno));
	r = open("ff", O_RDONLY | O_NONBLOCK);
	w = open("ff", O_WRONLY);
	r2 = open("ff2", O_RDONLY | O_NONBLOCK);
	w2 = open("ff2", O_WRONLY);
	rw = open("ff3", O_RDWR);
	if (r < 0 || w < 0 || r2 < 0 || w2 < 0 || rw < 0)
		fail("open: %s", strerror(errno));
	if (fcntl(w, F_SETPIPE_SZ, CAP) != CAP ||
	    fcntl(r2, F_SETFL, 0))		/* r2 blocks */
		fail("fcntl: %s", strerror(errno));
	pattern_fill(data, sizeof(data), 1);
	write_exact(w, data, N1, "ff");
	read_exact(r, buf, R1, "ff");
	if (write(rw, "ping", 4) != 4)
		fail("write ff3: %s", strerror(errno));

	sync_open(sync);
	pid = xfork();
	if (!pid) {
		close(r);
		close(w);
		close(r2);
		close(rw);
		child(w2, sync);
	}
	close(w2);
	children_ready(sync, 1);
	if (queued(r) != N1 - R1 || queued(r2) != N2)
		fail("queued %d and %d before the dump", queued(r), queued(r2));
	test_ready();
	test_wait();

	expect_fifo(r, "ff", O_RDONLY | O_NONBLOCK, "ff reader");
	expect_fifo(w, "ff", O_WRONLY, "ff writer");
	expect_fifo(r2, "ff2", O_RDONLY, "ff2 reader");
	expect_fifo(rw, "ff3", O_RDWR, "ff3");
	if (fcntl(w, F_GETPIPE_SZ) != CAP)
		fail("ff capacity %d, want %d", fcntl(w, F_GETPIPE_SZ), CAP);
	if (queued(r) != N1 - R1 || queued(r2) != N2 || queued(rw) != 4)
		fail("queued %d, %d, %d; want %d, %d, 4", queued(r),
		     queued(r2), queued(rw), N1 - R1, N2);

	/* ff: exactly the rest of what was written, then nothing */
	read_exact(r, buf, N1 - R1, "ff");
	if ((bad = mem_diff(buf, data + R1, N1 - R1)) >= 0)
		fail("ff: byte %ld differs", R1 + bad);
	expect_empty(r, "ff after the queued data");
	write_exact(w, data + N1, 500, "ff after restore");
	read_exact(r, buf, 500, "ff after restore");
	if (memcmp(buf, data + N1, 500))
		fail("ff: data written after restore differs");

	/* a new writer by path meets the restored reader */
	fd = open("ff", O_WRONLY | O_NONBLOCK);
	if (fd < 0 || write(fd, "by path", 7) != 7)
		fail("opening ff again: %s", strerror(errno));
	read_exact(r, buf, 7, "ff from a new writer");
	if (memcmp(buf, "by path", 7))
		fail("ff: the new writer's data differs");
	/* no writer left (none held by cr): EOF */
	close(fd);
	close(w);
	if (read(r, buf, 1) != 0)
		fail("ff: no EOF once its writers are closed");

	/* ff3 is its own reader and writer */
	if (read(rw, buf, 4) != 4 || memcmp(buf, "ping", 4) ||
	    write(rw, "pong", 4) != 4 || read(rw, buf, 4) != 4 ||
	    memcmp(buf, "pong", 4))
		fail("ff3: ping pong failed");

	/* ff2: the child's bytes, before and after, then EOF as it exits */
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	if (read_to_eof(r2, buf, sizeof(buf), "ff2") != N2 + N3)
		fail("ff2: not %d bytes before EOF", N2 + N3);
	pattern_fill(data, N2 + N3, 3);
	if ((bad = mem_diff(buf, data, N2 + N3)) >= 0)
		fail("ff2: byte %ld differs", bad);
	child_reap(pid, 33);
	pass();
}
