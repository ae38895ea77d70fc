/* Datagram and seqpacket sockets hold messages at the dump: a socketpair each between parent and child (both ways), a datagram server bound to a path with messages from three senders (one unnamed, one connected to it by name, one named: the server answers at the address the queued request came from), a socket bound to a relative path and one whose file was unlinked.  After restore every message comes back whole, in order, with its own length (an empty one too), the names are the same, and more go through. */
#include "lib.h"
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* getsockname must give name (a path, NUL-terminated). */
static void name_is(int s, const char *name)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &l) ||
	    l != offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1 ||
	    strcmp(a.sun_path, name))
		fail("fd %d is not bound to %s", s, name);
}

static pid_t root;

/* The abstract name of the child's named client. */
static socklen_t cli_addr(struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "cr-sk-dgram-cli-%d",
		 (int)root);
	return offsetof(struct sockaddr_un, sun_path) + 1 +
	       strlen(a->sun_path + 1);
}

static void child(int d, int q, const char *path, const char *rel, int sync[2])
{
	int u = socket(AF_UNIX, SOCK_DGRAM, 0), nc = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX }, ca;
	socklen_t cl = cli_addr(&ca);

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
	if (bind(nc, (struct sockaddr *)&ca, cl) ||
	    sendto(nc, "request", 7, 0, (struct sockaddr *)&a, sizeof(a)) != 7)
		fail("named client: %s", strerror(errno));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", rel);	/* from /tmp */
	if (sendto(u, msg, make(7, 2), 0, (struct sockaddr *)&a, sizeof(a)) < 0)
		fail("sendto %s: %s", rel, strerror(errno));
	snprintf(a.sun_path, sizeof(a.sun_path), "%s-del", path);
	if (sendto(u, msg, make(8, 3), 0, (struct sockaddr *)&a, sizeof(a)) < 0)
		fail("sendto %s: %s", a.sun_path, strerror(errno));
	child_ready(sync);
	test_wait();

	for (size_t i = 1; i < NMSG; i++) {
		get(d, 1, i);
		get(q, 3, i);
	}
	if (recv(nc, in, sizeof(in), 0) != 5 || memcmp(in, "reply", 5))
		fail("child: no reply to the request queued at the dump");
	none_left(d, "child datagram");
	none_left(q, "child seqpacket");
	put(d, 2, NMSG);
	put(q, 4, NMSG);
	exit(40);
}

int main(int argc, char **argv)
{
	int d[2], q[2], sync[2], srv, k, rs, ds, type = 0;
	socklen_t l = sizeof(type);
	char path[64], rel[64], del[80];
	struct stat st;
	pid_t pid;

	test_init(argc, argv);
	root = getpid();
	snprintf(path, sizeof(path), "/tmp/cr-sk-dgram-%d", (int)getpid());
	snprintf(rel, sizeof(rel), "cr-sk-rel-%d", (int)getpid());
	snprintf(del, sizeof(del), "%s-del", path);
	if (chdir("/tmp"))
		fail("chdir: %s", strerror(errno));
	unlink(path);
	unlink(rel);
	unlink(del);
	sync_open(sync);
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, d) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q))
		fail("socketpair: %s", strerror(errno));
	srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	k = socket(AF_UNIX, SOCK_DGRAM, 0);
	bind_to(srv, path);
	connect_to(k, path);
	rs = socket(AF_UNIX, SOCK_DGRAM, 0);
	ds = socket(AF_UNIX, SOCK_DGRAM, 0);
	bind_to(rs, rel);
	bind_to(ds, del);
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
		close(rs);
		close(ds);
		child(d[1], q[1], path, rel, sync);
	}
	close(d[1]);
	close(q[1]);
	children_ready(sync, 1);
	if (unlink(del))
		fail("unlink: %s", strerror(errno));
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
	{	/* its sender's address came back with it: answer there */
		struct sockaddr_un from, want;
		socklen_t fl = sizeof(from), wl = cli_addr(&want);

		if (recvfrom(srv, in, sizeof(in), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl) != 7 ||
		    memcmp(in, "request", 7) || fl != wl || memcmp(&from, &want, wl))
			fail("the request lost its sender's address");
		if (sendto(srv, "reply", 5, 0, (struct sockaddr *)&from, fl) != 5)
			fail("reply: %s", strerror(errno));
	}
	get(srv, 6, 0);
	get(srv, 6, 1);
	none_left(srv, "server");
	name_is(rs, rel);
	name_is(ds, del);
	if (stat(rel, &st) || !S_ISSOCK(st.st_mode) || !stat(del, &st))
		fail("%s is not a socket file or %s exists", rel, del);
	get(rs, 7, 2);
	get(ds, 8, 3);
	none_left(rs, "relative");
	none_left(ds, "unlinked");
	put(k, 6, 2);		/* still connected to the server by name */
	get(srv, 6, 2);
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	child_reap(pid, 40);
	get(d[0], 2, NMSG);
	get(q[0], 4, NMSG);
	unlink(path);
	unlink(rel);
	pass();
}
