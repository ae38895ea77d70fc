/* One established TCP socket shared by two processes of the tree (inherited by fork, and dup()ed in one of them) comes back as one socket: bytes queued each way are read after restore from whichever fd, the child's and the parent's fds are the same socket (same inode, bytes sent on either arrive in order at the peer); dumped with --tcp-established. */
#include "fdlib.h"
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define TO_C 70000		/* s -> c, queued at c before the dump */
#define TO_S 50000		/* c (by the child) -> s, queued at s */
#define MORE 30000		/* each way after restore */

static uint8_t pat(uint64_t i, int seed)
{
	return (uint8_t)(i * 149 + seed * 13 + (i >> 9));
}

static void put(int s, int seed, uint64_t from, uint64_t len, const char *who)
{
	uint8_t buf[8192];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(from + i, seed);
		w = send(s, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			fail("%s: send at %llu: %s", who,
			     (unsigned long long)from, strerror(errno));
		from += w;
		len -= w;
	}
}

static void get(int s, int seed, uint64_t from, uint64_t len, const char *who)
{
	uint8_t buf[8192];

	while (len) {
		ssize_t n;

		if (!(poll_fd(s, POLLIN, 10000) & POLLIN))
			fail("%s: stalled with %llu bytes to come", who,
			     (unsigned long long)len);
		n = recv(s, buf, len < sizeof(buf) ? len : sizeof(buf), 0);
		if (n <= 0)
			fail("%s: recv with %llu bytes to come: %s", who,
			     (unsigned long long)len,
			     n ? strerror(errno) : "EOF");
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(from + i, seed))
				fail("%s: byte %llu is wrong", who,
				     (unsigned long long)(from + i));
		from += n;
		len -= n;
	}
}

static uint64_t ino(int fd)
{
	struct stat sb;

	if (fstat(fd, &sb))
		fail("fstat %d: %s", fd, strerror(errno));
	return sb.st_ino;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int l, c, s, c2, sync[2], on = 1;
	uint64_t child_ino;
	pid_t pid;

	test_init(argc, argv);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind_low_port(l, (struct sockaddr *)&a, len) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		fail("listener: %s", strerror(errno));
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, len) ||
	    (s = accept(l, NULL, NULL)) < 0)
		fail("connection: %s", strerror(errno));
	close(l);
	sync_open(sync);
	pid = xfork();
	if (!pid) {	/* c, and a dup of it; not s */
		close(s);
		c2 = dup(c);
		if (c2 < 0)
			fail("child: dup: %s", strerror(errno));
		put(c2, 1, 0, TO_S, "child");
		child_ready(sync);
		test_wait();
		if (ino(c) != ino(c2))
			fail("child: its two fds are two sockets now");
		get(c2, 2, 0, TO_C / 2, "child: first half");
		get(c, 2, TO_C / 2, TO_C - TO_C / 2, "child: second half");
		put(c, 1, TO_S, MORE, "child after restore");
		child_ino = ino(c);
		if (send(c2, &child_ino, 8, MSG_NOSIGNAL) != 8)
			fail("child: send: %s", strerror(errno));
		exit(50);
	}
	children_ready(sync, 1);
	put(s, 2, 0, TO_C, "parent");
	usleep(100000);		/* let loopback deliver and acknowledge */
	test_ready();
	test_wait();
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	get(s, 1, 0, TO_S + MORE, "parent: the child's bytes");
	if (recv(s, &child_ino, 8, MSG_WAITALL) != 8)
		fail("parent: no inode from the child: %s", strerror(errno));
	child_reap(pid, 50);
	if (child_ino != ino(c))
		fail("the child's fd and the parent's are two sockets now");
	put(c, 4, 0, MORE, "parent on c");	/* the parent's copy works too */
	get(s, 4, 0, MORE, "parent: its own bytes on c");
	put(s, 5, 0, MORE, "parent on s");
	get(c, 5, 0, MORE, "parent: on c");
	pass();
}
