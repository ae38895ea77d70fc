/* Established TCP connections with both ends in the tree (IPv4 between two processes, IPv6 and IPv4 to a dual-stack IPv6 socket inside one) keep the data queued both ways, unacknowledged and unsent bytes included, and go on working; dumped with --tcp-established. */
#include "fdlib.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#ifndef SIOCOUTQNSD
#define SIOCOUTQNSD 0x894B
#endif

#define BIG (3u << 20)		/* parent -> child, most of it not sent yet */
#define SMALL 60000		/* child -> parent, not read yet */
#define V6_A 5000		/* IPv6 pair, one way */
#define V6_B 7000		/* and the other */

static uint8_t pat(uint64_t i, int seed)
{
	return (uint8_t)(i * 131 + seed * 7 + (i >> 11));
}

/* Send bytes [*off, max) of pattern seed; stop at EAGAIN if nonblocking. */
static void put(int s, int seed, uint64_t *off, uint64_t max, const char *what)
{
	uint8_t buf[16384];

	while (*off < max) {
		size_t n = max - *off < sizeof(buf) ? max - *off : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(*off + i, seed);
		w = send(s, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0)
			fail("%s: send at %llu: %s", what,
			     (unsigned long long)*off, strerror(errno));
		*off += w;
	}
}

/* Read exactly want bytes of pattern seed (then EOF if eof). */
static void get(int s, int seed, uint64_t want, bool eof, const char *what)
{
	uint8_t buf[16384];
	uint64_t off = 0;

	while (off < want || eof) {
		ssize_t n;

		if (poll_fd(s, POLLIN, 10000) != POLLIN &&
		    !(poll_fd(s, POLLIN | POLLHUP, 0) & POLLHUP))
			fail("%s: stalled at %llu of %llu bytes", what,
			     (unsigned long long)off, (unsigned long long)want);
		n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0)
			fail("%s: recv at %llu: %s", what,
			     (unsigned long long)off, strerror(errno));
		if (n == 0) {
			if (off != want)
				fail("%s: EOF at %llu of %llu bytes", what,
				     (unsigned long long)off,
				     (unsigned long long)want);
			return;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(off + i, seed))
				fail("%s: byte %llu is wrong", what,
				     (unsigned long long)(off + i));
		off += n;
		if (off > want)
			fail("%s: more than %llu bytes", what,
			     (unsigned long long)want);
	}
}

static int listener(int fam, const char *ip, struct sockaddr_storage *a,
		    socklen_t *len)
{
	int l = socket(fam, SOCK_STREAM, 0), on = 1;

	memset(a, 0, sizeof(*a));
	a->ss_family = fam;
	if (fam == AF_INET)
		inet_pton(fam, ip, &((struct sockaddr_in *)a)->sin_addr);
	else
		inet_pton(fam, ip, &((struct sockaddr_in6 *)a)->sin6_addr);
	*len = fam == AF_INET ? sizeof(struct sockaddr_in) :
				sizeof(struct sockaddr_in6);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind_low_port(l, a, *len) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)a, len))
		fail("listener: %s", strerror(errno));
	return l;
}

static void child(const struct sockaddr_storage *a, socklen_t len, int sync[2])
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	uint64_t off = 0, got;

	if (c < 0 || connect(c, (const struct sockaddr *)a, len))
		fail("child: connect: %s", strerror(errno));
	put(c, 1, &off, SMALL, "child");
	if (off != SMALL)
		fail("child: only %llu bytes sent", (unsigned long long)off);
	child_ready(sync);
	test_wait();
	get(c, 2, BIG, true, "child: the parent's stream");
	got = BIG;
	if (send(c, &got, 8, MSG_NOSIGNAL) != 8)
		fail("child: send: %s", strerror(errno));
	close(c);
	exit(50);
}

int main(int argc, char **argv)
{
	struct sockaddr_storage a4, a6;
	socklen_t l4len, l6len;
	int l4, l6, s4, c6, s6, sync[2], v, ld, c4, s46;
	struct sockaddr_storage ad;
	uint64_t off4a = 0, off4b = 0;
	uint64_t off = 0, off6a = 0, off6b = 0, got = 0;
	pid_t pid;
	ssize_t n;

	test_init(argc, argv);
	l4 = listener(AF_INET, "127.0.0.1", &a4, &l4len);
	sync_open(sync);
	pid = xfork();
	if (!pid) {
		close(l4);
		child(&a4, l4len, sync);
	}
	s4 = accept(l4, NULL, NULL);
	if (s4 < 0)
		fail("accept: %s", strerror(errno));
	children_ready(sync, 1);
	fcntl(s4, F_SETFL, O_NONBLOCK);
	put(s4, 2, &off, BIG, "parent");	/* until the child's window is full */
	if (ioctl(s4, SIOCOUTQNSD, &v) || v <= 0)
		fail("nothing unsent queued (%d)", v);

	l6 = listener(AF_INET6, "::1", &a6, &l6len);
	c6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (c6 < 0 || connect(c6, (struct sockaddr *)&a6, l6len) ||
	    (s6 = accept(l6, NULL, NULL)) < 0)
		fail("IPv6 pair: %s", strerror(errno));
	put(c6, 3, &off6a, V6_A, "c6");
	{	/* IPv4 to a dual-stack listener: an IPv6 socket, mapped addresses */
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&ad;
		struct sockaddr_in to = { .sin_family = AF_INET };
		socklen_t dlen;
		int on = 0;

		memset(&ad, 0, sizeof(ad));
		d->sin6_family = AF_INET6;
		ld = socket(AF_INET6, SOCK_STREAM, 0);
		dlen = sizeof(*d);
		if (ld < 0 || setsockopt(ld, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) ||
		    bind_low_port(ld, d, dlen) || listen(ld, 1))
			fail("dual-stack listener: %s", strerror(errno));
		to.sin_port = d->sin6_port;
		inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
		c4 = socket(AF_INET, SOCK_STREAM, 0);
		if (c4 < 0 || connect(c4, (struct sockaddr *)&to, sizeof(to)) ||
		    (s46 = accept(ld, NULL, NULL)) < 0)
			fail("IPv4 to dual-stack: %s", strerror(errno));
		put(c4, 7, &off4a, 4000, "c4");
		put(s46, 8, &off4b, 6000, "s46");
	}
	put(s6, 4, &off6b, V6_B, "s6");
	usleep(100000);		/* let loopback deliver and acknowledge */
	test_ready();
	test_wait();
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));

	get(s4, 1, SMALL, false, "parent: the child's bytes");
	get(s6, 3, V6_A, false, "s6");
	get(c6, 4, V6_B, false, "c6");
	get(s46, 7, 4000, false, "s46");
	get(c4, 8, 6000, false, "c4");
	off4a = 0;
	put(c4, 9, &off4a, 20000, "c4 again");
	get(s46, 9, 20000, false, "s46 again");
	fcntl(s4, F_SETFL, 0);
	put(s4, 2, &off, BIG, "parent after restore");
	shutdown(s4, SHUT_WR);
	if (!(poll_fd(s4, POLLIN, 20000) & POLLIN))
		fail("no answer from the child");
	n = recv(s4, &got, 8, MSG_WAITALL);
	if (n != 8 || got != BIG)
		fail("the child got %llu bytes, want %u (recv %zd: %s)",
		     (unsigned long long)got, BIG, n, strerror(errno));
	child_reap(pid, 50);
	/* the IPv6 pair goes on both ways */
	off6a = off6b = 0;
	put(c6, 5, &off6a, 30000, "c6 again");
	get(s6, 5, 30000, false, "s6 again");
	put(s6, 6, &off6b, 1000, "s6 again");
	get(c6, 6, 1000, false, "c6 again");
	pass();
}
