/* Pipes between parent and child hold data at the dump, both ways: the reader gets exactly the bytes in order, capacity, O_NONBLOCK and fill level are kept, and both go on writing after restore. */
#include "lib.h"
#include <poll.h>
#include <sys/ioctl.h>

#define BIG_PIPE (256 * 1024)	/* down's F_SETPIPE_SZ */
#define N1 200000		/* down, written before the dump */
#define READ1 1000		/* of which the child read this much */
#define N1B 5000		/* down, written after restore */
#define N2B 70000		/* up, written after restore */
#define MAXCAP (1 << 20)

static unsigned char dstream[N1 + N1B], ustream[MAXCAP + N2B];
static unsigned char buf[MAXCAP + N2B];

/* Wait up to 10 s for fd to be ready for ev; false on timeout. */
static bool await(int fd, short ev)
{
	struct pollfd p = { fd, ev, 0 };
	int r = poll(&p, 1, 10000);

	if (r < 0)
		fail("poll fd %d: %s", fd, strerror(errno));
	return r;
}

/* Write all n bytes, also through O_NONBLOCK. */
static void put(int fd, const void *data, size_t n)
{
	const unsigned char *p = data;
	ssize_t k;

	while (n) {
		k = write(fd, p, n);
		if (k < 0 && errno == EAGAIN) {
			if (!await(fd, POLLOUT))
				fail("fd %d: full for 10 s", fd);
			continue;
		}
		if (k <= 0)
			fail("write fd %d: %s", fd, strerror(errno));
		p += k;
		n -= k;
	}
}

/* Read until EOF (at most max bytes); how many. */
static size_t get_all(int fd, unsigned char *p, size_t max)
{
	size_t n = 0;
	ssize_t k;

	for (;;) {
		k = read(fd, p + n, max - n);
		if (k < 0 && errno == EAGAIN) {
			if (!await(fd, POLLIN))
				fail("fd %d: %zu bytes read, then neither data "
				     "nor EOF for 10 s (a write end left "
				     "open?)", fd, n);
			continue;
		}
		if (k < 0)
			fail("read fd %d: %s", fd, strerror(errno));
		if (k == 0 || (n += k) == max)
			return n;
	}
}

static int pipe_size(int fd)
{
	return fcntl(fd, F_GETPIPE_SZ);
}

static int queued(int fd)
{
	int n = -1;

	ioctl(fd, FIONREAD, &n);
	return n;
}

/* fd must (not) be O_NONBLOCK and have capacity cap. */
static void check_fd(const char *who, int fd, bool nonblock, int cap)
{
	bool nb = fcntl(fd, F_GETFL) & O_NONBLOCK;

	if (nb != nonblock || pipe_size(fd) != cap)
		fail("%s: fd %d: O_NONBLOCK %d, capacity %d; want %d, %d", who,
		     fd, nb, pipe_size(fd), nonblock, cap);
}

static void child(int down, int up, int sync[2])
{
	size_t n = 0;
	ssize_t k;
	int cap;

	if (read(down, buf, READ1) != READ1)
		fail("child: read: %s", strerror(errno));
	while ((k = write(up, ustream + n, 4096)) > 0)	/* fill it up */
		n += k;
	cap = pipe_size(up);
	if (errno != EAGAIN || (int)n != cap)
		fail("child: filled %zu of %d bytes: %s", n, cap,
		     strerror(errno));
	child_ready(sync);
	test_wait();

	check_fd("child", down, false, BIG_PIPE);
	check_fd("child", up, true, cap);
	n = get_all(down, buf, sizeof(buf));
	if (n != N1 - READ1 + N1B || memcmp(buf, dstream + READ1, n))
		fail("child: read %zu bytes from the parent, want %d%s", n,
		     N1 - READ1 + N1B, memcmp(buf, dstream + READ1, n) ?
		     ", different" : "");
	put(up, ustream + cap, N2B);
	exit(40);
}

int main(int argc, char **argv)
{
	int down[2], up[2], sync[2], cap;
	size_t n;
	pid_t pid;

	test_init(argc, argv);
	pattern_fill(dstream, sizeof(dstream), 11);
	pattern_fill(ustream, sizeof(ustream), 22);
	sync_open(sync);
	if (pipe(down) || pipe2(up, O_NONBLOCK))
		fail("pipe: %s", strerror(errno));
	if (fcntl(down[1], F_SETPIPE_SZ, BIG_PIPE) != BIG_PIPE)
		fail("F_SETPIPE_SZ: %s", strerror(errno));
	put(down[1], dstream, N1);
	pid = xfork();
	if (!pid) {
		close(down[1]);
		close(up[0]);
		child(down[0], up[1], sync);
	}
	close(down[0]);
	close(up[1]);
	children_ready(sync, 1);
	cap = pipe_size(up[0]);
	if (queued(up[0]) != cap || queued(down[1]) != N1 - READ1)
		fail("pipes hold %d and %d bytes", queued(up[0]),
		     queued(down[1]));
	test_ready();
	test_wait();

	check_fd("parent", down[1], false, BIG_PIPE);
	check_fd("parent", up[0], true, cap);
	if (queued(up[0]) != cap || queued(down[1]) != N1 - READ1)
		fail("pipes hold %d and %d bytes, want %d and %d",
		     queued(up[0]), queued(down[1]), cap, N1 - READ1);
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	put(down[1], dstream + N1, N1B);
	close(down[1]);
	n = get_all(up[0], buf, sizeof(buf));
	if (n != (size_t)cap + N2B || memcmp(buf, ustream, n))
		fail("read %zu bytes from the child, want %d%s", n, cap + N2B,
		     memcmp(buf, ustream, n) ? ", different" : "");
	child_reap(pid, 40);
	pass();
}
