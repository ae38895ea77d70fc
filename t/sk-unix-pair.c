/* A stream socketpair between parent and child holds data both ways at the dump: after restore each side reads exactly the queued bytes (peek offset, O_NONBLOCK, buffer sizes, timeouts, SO_PASSCRED, SO_RCVLOWAT, SO_PASSRIGHTS kept; an epoll sees it readable), then both go on talking. */
#include "lib.h"
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define DOWN 150000		/* parent -> child, before the dump */
#define READ1 1000		/* of which the child read this much */
#define UP 90000		/* child -> parent, before the dump, unread */
#define PEEK 100		/* the parent peeked this far (SO_PEEK_OFF) */
#define MORE 70000		/* each way after restore */
#define RCVBUF 300000
#define LOWAT 5
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83	/* 6.16+ */
#endif

static unsigned char dstream[DOWN + MORE], ustream[UP + MORE], buf[DOWN + UP + MORE];

static void put(int fd, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		struct pollfd pf = { fd, POLLOUT, 0 };

		if (k < 0 && errno == EAGAIN) {
			if (poll(&pf, 1, 10000) != 1)
				fail("fd %d: full for 10 s", fd);
			continue;
		}
		if (k <= 0)
			fail("send fd %d: %s", fd, strerror(errno));
		p += k;
		n -= k;
	}
}

static void get(int fd, unsigned char *p, size_t n)
{
	while (n) {
		ssize_t k = recv(fd, p, n, 0);
		struct pollfd pf = { fd, POLLIN, 0 };

		if (k < 0 && errno == EAGAIN) {
			if (poll(&pf, 1, 10000) != 1)
				fail("fd %d: nothing to read for 10 s", fd);
			continue;
		}
		if (k <= 0)
			fail("recv fd %d: %zd %s", fd, k, strerror(errno));
		p += k;
		n -= k;
	}
}

static int opt(int fd, int name)
{
	int v = -7;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, name, &v, &l))
		fail("getsockopt %d: %s", name, strerror(errno));
	return v;
}

static int queued(int fd)
{
	int n = -1;

	ioctl(fd, FIONREAD, &n);
	return n;
}

static void child(int s, int sync[2])
{
	int lowat = LOWAT;

	if (setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)))
		fail("SO_RCVLOWAT: %s", strerror(errno));
	if (recv(s, buf, READ1, MSG_WAITALL) != READ1 || memcmp(buf, dstream, READ1))
		fail("child: first read");
	put(s, ustream, UP);
	child_ready(sync);
	test_wait();

	if (queued(s) != DOWN - READ1 || opt(s, SO_PASSCRED) != 1 ||
	    opt(s, SO_RCVLOWAT) != LOWAT ||
	    opt(s, SO_TYPE) != SOCK_STREAM || opt(s, SO_PEEK_OFF) != -1 ||
	    (fcntl(s, F_GETFL) & O_NONBLOCK))
		fail("child: %d queued, passcred %d, peek_off %d, flags %#x",
		     queued(s), opt(s, SO_PASSCRED), opt(s, SO_PEEK_OFF),
		     fcntl(s, F_GETFL));
	put(s, ustream + UP, MORE);
	get(s, buf, DOWN - READ1 + MORE);
	if (memcmp(buf, dstream + READ1, DOWN - READ1 + MORE))
		fail("child: bytes from the parent differ");
	exit(40);
}

int main(int argc, char **argv)
{
	int sv[2], sync[2], one = 1, zero = 0, rcv, rights, ep;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 77 };
	struct timeval tv = { 1, 500000 }, tv2;
	socklen_t tl = sizeof(tv2);
	pid_t pid;

	test_init(argc, argv);
	pattern_fill(dstream, sizeof(dstream), 31);
	pattern_fill(ustream, sizeof(ustream), 32);
	sync_open(sync);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		fail("socketpair: %s", strerror(errno));
	if (setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)))
		fail("SO_PASSCRED: %s", strerror(errno));
	put(sv[0], dstream, DOWN);
	pid = xfork();
	if (!pid) {
		close(sv[0]);
		child(sv[1], sync);
	}
	close(sv[1]);
	rcv = RCVBUF;
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK))
		fail("SO_RCVBUF: %s", strerror(errno));
	rcv = opt(sv[0], SO_RCVBUF);
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		fail("SO_SNDTIMEO: %s", strerror(errno));
	rights = !setsockopt(sv[0], SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero));
	children_ready(sync, 1);
	while (queued(sv[0]) != UP)
		usleep(1000);
	if (setsockopt(sv[0], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) ||
	    recv(sv[0], buf, PEEK, MSG_PEEK) != PEEK || opt(sv[0], SO_PEEK_OFF) != PEEK)
		fail("peek: %s", strerror(errno));
	ep = epoll_create1(0);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev))
		fail("epoll: %s", strerror(errno));
	test_ready();
	test_wait();

	if (epoll_wait(ep, &ev, 1, 0) != 1 || ev.data.u64 != 77 ||
	    !(ev.events & EPOLLIN))
		fail("epoll does not see the queued data");
	if (queued(sv[0]) != UP || opt(sv[0], SO_PEEK_OFF) != PEEK ||
	    opt(sv[0], SO_RCVBUF) != rcv || !(fcntl(sv[0], F_GETFL) & O_NONBLOCK) ||
	    opt(sv[0], SO_PASSCRED) != 0)
		fail("parent: %d queued, peek_off %d, rcvbuf %d (want %d), flags %#x",
		     queued(sv[0]), opt(sv[0], SO_PEEK_OFF), opt(sv[0], SO_RCVBUF),
		     rcv, fcntl(sv[0], F_GETFL));
	if (getsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv2, &tl) ||
	    tv2.tv_sec != 1 || tv2.tv_usec != 500000)
		fail("SO_SNDTIMEO is %ld.%06ld", (long)tv2.tv_sec, (long)tv2.tv_usec);
	if (rights && opt(sv[0], SO_PASSRIGHTS) != 0)
		fail("SO_PASSRIGHTS is on again");
	if (recv(sv[0], buf, 10, MSG_PEEK) != 10 || memcmp(buf, ustream + PEEK, 10))
		fail("peek after restore does not go on from offset %d", PEEK);
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	get(sv[0], buf, UP + MORE);	/* the child checked its side first */
	if (memcmp(buf, ustream, UP + MORE))
		fail("parent: bytes from the child differ");
	put(sv[0], dstream + DOWN, MORE);
	child_reap(pid, 40);
	pass();
}
