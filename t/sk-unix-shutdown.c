/* Shut down and half-closed unix sockets: a stream pair between parent and child after shutdown(SHUT_WR) with data still queued, a seqpacket pair after SHUT_RD, a stream and a datagram socket whose peer was closed with data left for them.  After restore each reads its data, then end of file, and writes fail as before. */
#include "lib.h"
#include <sys/socket.h>

static char buf[4096];

static void get(int s, const char *what)
{
	ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);

	if (n != (ssize_t)strlen(what) || memcmp(buf, what, n))
		fail("fd %d: wanted \"%s\", got %zd (%s)", s, what, n,
		     n < 0 ? strerror(errno) : "other bytes");
}

static void eof(int s)
{
	ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);

	if (n != 0)
		fail("fd %d: wanted end of file, got %zd (%s)", s, n,
		     n < 0 ? strerror(errno) : "data");
}

static void put(int s, const char *what)
{
	if (send(s, what, strlen(what), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)strlen(what))
		fail("fd %d: send \"%s\": %s", s, what, strerror(errno));
}

static void put_fails(int s, int err)
{
	if (send(s, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != -1 || errno != err)
		fail("fd %d: send should fail with %s (%s)", s, strerror(err),
		     strerror(errno));
}

int main(int argc, char **argv)
{
	int ab[2], cd[2], ef[2], gh[2], sync[2];
	pid_t pid;

	test_init(argc, argv);
	sync_open(sync);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, ab))
		fail("socketpair: %s", strerror(errno));
	pid = xfork();
	if (!pid) {
		close(ab[0]);
		put(ab[1], "last words");
		if (shutdown(ab[1], SHUT_WR))
			fail("shutdown: %s", strerror(errno));
		child_ready(sync);
		test_wait();
		put_fails(ab[1], EPIPE);
		get(ab[1], "after restore");
		exit(40);
	}
	close(ab[1]);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, cd) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ef) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, gh))
		fail("socketpair: %s", strerror(errno));
	put(cd[1], "message");
	if (shutdown(cd[0], SHUT_RD))
		fail("shutdown: %s", strerror(errno));
	put(ef[1], "left behind");
	close(ef[1]);
	put(gh[1], "datagram 1");
	put(gh[1], "datagram 2");
	close(gh[1]);
	children_ready(sync, 1);
	test_ready();
	test_wait();

	get(ab[0], "last words");
	eof(ab[0]);
	put(ab[0], "after restore");
	get(cd[0], "message");
	eof(cd[0]);
	put_fails(cd[1], EPIPE);
	put(cd[0], "other way");
	get(cd[1], "other way");
	get(ef[0], "left behind");
	eof(ef[0]);
	put_fails(ef[0], EPIPE);
	get(gh[0], "datagram 1");
	get(gh[0], "datagram 2");
	if (recv(gh[0], buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN)
		fail("datagram socket: more than its two messages");
	put_fails(gh[0], ECONNREFUSED);
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(pid, 40);
	pass();
}
