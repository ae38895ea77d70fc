/* Datagram and seqpacket sockets hold messages at the dump: a socketpair each between parent and child (both ways), and a datagram server bound to a path with messages from two senders, one of them connected to it by name.  After restore every message comes back whole, in order, with its own length (an empty one too), and more go through. */
#include "lib.h"
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

static const size_t sizes[] = { 1, 0, 1000, 60000, 7, 4096 };
#define NMSG (sizeof(sizes) / sizeof(sizes[0]))
#define MAXMSG 65536

static unsigned char msg[MAXMSG], in[MAXMSG + 1];

/* Message i of stream seed: sizes[i % NMSG] bytes of pattern. */
static size_t make(uint64_t seed, size_t i)
{
	size_t n = sizes[i % NMSG];

	pattern_fill(msg, n, seed * 1000 + i);
	return n;
}

static void put(int s, uint64_t seed, size_t i)
{
	size_t n = make(seed, i);

	if (send(s, msg, n, 0) != (ssize_t)n)
		fail("send seed %llu #%zu: %s", (unsigned long long)seed, i,
		     strerror(errno));
}

static void get(int s, uint64_t seed, size_t i)
{
	size_t n = make(seed, i);
	ssize_t k = recv(s, in, sizeof(in), MSG_DONTWAIT);

	if (k != (ssize_t)n || memcmp(in, msg, n))
		fail("fd %d seed %llu message %zu: got %zd bytes%s, want %zu", s,
		     (unsigned long long)seed, i, k, k < 0 ? strerror(errno) : "", n);
}

static void none_left(int s, const char *what)
{
	if (recv(s, in, sizeof(in), MSG_DONTWAIT) != -1 || errno != EAGAIN)
		fail("%s: more messages than queued", what);
}

static void bind_to(int s, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)))
		fail("bind %s: %s", path, strerror(errno));
}

static void connect_to(int s, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)))
		fail("connect %s: %s", path, strerror(errno));
}

static void child(int d, int q, const char *path, int sync[2])
{
	int u = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	get(d, 1, 0);		/* the first message the parent sent */
	for (size_t i = 0; i < NMSG; i++) {
		put(d, 2, i);
		put(q, 4, i);
	}
	get(q, 3, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (size_t i = 0; i < 3; i++) {
		size_t n = make(5, i);

		if (sendto(u, msg, n, 0, (struct sockaddr *)&a, sizeof(a)) != (ssize_t)n)
			fail("sendto: %s", strerror(errno));
	}
	child_ready(sync);
	test_wait();

	for (size_t i = 1; i < NMSG; i++) {
		get(d, 1, i);
		get(q, 3, i);
	}
	none_left(d, "child datagram");
	none_left(q, "child seqpacket");
	put(d, 2, NMSG);
	put(q, 4, NMSG);
	exit(40);
}

int main(int argc, char **argv)
{
	int d[2], q[2], sync[2], srv, k, type = 0;
	socklen_t l = sizeof(type);
	char path[64];
	pid_t pid;

	test_init(argc, argv);
	snprintf(path, sizeof(path), "/tmp/cr-sk-dgram-%d", (int)getpid());
	unlink(path);
	sync_open(sync);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, d) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q))
		fail("socketpair: %s", strerror(errno));
	srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	k = socket(AF_UNIX, SOCK_DGRAM, 0);
	bind_to(srv, path);
	connect_to(k, path);
	for (size_t i = 0; i < NMSG; i++) {
		put(d[0], 1, i);
		put(q[0], 3, i);
	}
	pid = xfork();
	if (!pid) {
		close(d[0]);
		close(q[0]);
		close(srv);
		close(k);
		child(d[1], q[1], path, sync);
	}
	close(d[1]);
	close(q[1]);
	children_ready(sync, 1);
	put(k, 6, 0);
	put(k, 6, 1);
	test_ready();
	test_wait();

	if (getsockopt(q[0], SOL_SOCKET, SO_TYPE, &type, &l) || type != SOCK_SEQPACKET)
		fail("seqpacket socket is of type %d", type);
	for (size_t i = 0; i < NMSG; i++) {
		get(d[0], 2, i);
		get(q[0], 4, i);
	}
	none_left(d[0], "parent datagram");
	for (size_t i = 0; i < 3; i++)
		get(srv, 5, i);
	get(srv, 6, 0);
	get(srv, 6, 1);
	none_left(srv, "server");
	put(k, 6, 2);		/* still connected to the server by name */
	get(srv, 6, 2);
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(pid, 40);
	get(d[0], 2, NMSG);
	get(q[0], 4, NMSG);
	unlink(path);
	pass();
}
