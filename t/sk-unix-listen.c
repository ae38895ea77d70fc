/* Listening sockets, on a path (mode kept) and an abstract name, hold connections not accepted yet from clients in the child (one of them bound to a name); an accepted connection holds data both ways; two more were accepted from a listener closed since.  After restore the queued connections are accepted in their order, the names are right, and all of them talk. */
#include "lib.h"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static char path[64], abs_name[64], cli_name[64], gone[64];

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (name[0] == '@') {	/* abstract */
		memcpy(a->sun_path + 1, name + 1, strlen(name + 1));
		return offsetof(struct sockaddr_un, sun_path) + strlen(name);
	}
	strcpy(a->sun_path, name);
	return sizeof(*a);
}

static int sock(void)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	if (s < 0)
		fail("socket: %s", strerror(errno));
	return s;
}

static int listener(const char *name, int backlog)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name);
	int s = sock();

	if (bind(s, (struct sockaddr *)&a, l) || listen(s, backlog))
		fail("bind/listen %s: %s", name, strerror(errno));
	return s;
}

static int client(const char *to, const char *own)
{
	struct sockaddr_un a;
	socklen_t l;
	int s = sock();

	if (own) {
		l = addr(&a, own);
		if (bind(s, (struct sockaddr *)&a, l))
			fail("bind %s: %s", own, strerror(errno));
	}
	l = addr(&a, to);
	if (connect(s, (struct sockaddr *)&a, l))
		fail("connect %s: %s", to, strerror(errno));
	return s;
}

/* The name getsockname/getpeername gives must be name. */
static void name_is(int s, bool peer, const char *name)
{
	struct sockaddr_un a, want;
	socklen_t l = sizeof(a), wl = addr(&want, name);
	int r = peer ? getpeername(s, (struct sockaddr *)&a, &l) :
		       getsockname(s, (struct sockaddr *)&a, &l);

	if (name[0] != '@')
		wl = offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
	if (r || l != wl || memcmp(&a, &want, l))
		fail("fd %d: %s name is not %s (length %u, want %u)", s,
		     peer ? "peer" : "own", name, (unsigned)l, (unsigned)wl);
}

static void say(int s, const char *what)
{
	if (send(s, what, strlen(what), MSG_NOSIGNAL) != (ssize_t)strlen(what))
		fail("send %s: %s", what, strerror(errno));
}

static void hear(int s, const char *what)
{
	char buf[64];
	size_t n = strlen(what);

	if (recv(s, buf, n, MSG_WAITALL) != (ssize_t)n || memcmp(buf, what, n))
		fail("fd %d: did not get \"%s\"", s, what);
}

static void child(int sync[2])
{
	int c4 = client(abs_name, NULL), c1 = client(path, NULL);
	int c2 = client(path, cli_name), c3 = client(abs_name, NULL);
	int c5 = client(gone, NULL), c6 = client(gone, NULL);

	say(c4, "early from the client");
	child_ready(sync);
	test_wait();

	hear(c4, "early from the server");
	say(c1, "one");
	say(c2, "two");
	say(c3, "three");
	hear(c1, "ONE");
	hear(c2, "TWO");
	hear(c3, "THREE");
	say(c4, "late");
	hear(c4, "LATE");
	say(c5, "five");
	say(c6, "six");
	hear(c5, "FIVE");
	hear(c6, "SIX");
	exit(40);
}

int main(int argc, char **argv)
{
	int lp, la, lg, a4, a5, a6, a, sync[2];
	struct stat st;
	pid_t pid;

	test_init(argc, argv);
	snprintf(path, sizeof(path), "/tmp/cr-sk-listen-%d", (int)getpid());
	snprintf(abs_name, sizeof(abs_name), "@cr-sk-listen-%d", (int)getpid());
	snprintf(cli_name, sizeof(cli_name), "@cr-sk-client-%d", (int)getpid());
	snprintf(gone, sizeof(gone), "@cr-sk-gone-%d", (int)getpid());
	unlink(path);
	sync_open(sync);
	lp = listener(path, 5);
	la = listener(abs_name, 3);
	lg = listener(gone, 2);
	if (chmod(path, 0640))
		fail("chmod: %s", strerror(errno));
	pid = xfork();
	if (!pid) {
		close(lp);
		close(la);
		close(lg);
		child(sync);
	}
	children_ready(sync, 1);
	a4 = accept(la, NULL, NULL);	/* c4, the first to connect */
	if (a4 < 0)
		fail("accept: %s", strerror(errno));
	say(a4, "early from the server");
	a5 = accept(lg, NULL, NULL);	/* accepted, then their listener goes */
	a6 = accept(lg, NULL, NULL);
	if (a5 < 0 || a6 < 0 || close(lg))
		fail("accept: %s", strerror(errno));
	test_ready();
	test_wait();

	if (stat(path, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0640)
		fail("%s: not a socket of mode 0640", path);
	name_is(lp, false, path);
	name_is(la, false, abs_name);
	name_is(a4, false, abs_name);
	hear(a4, "early from the client");
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	a = accept(lp, NULL, NULL);
	hear(a, "one");
	say(a, "ONE");
	name_is(a, false, path);
	close(a);
	a = accept(lp, NULL, NULL);
	name_is(a, true, cli_name);
	hear(a, "two");
	say(a, "TWO");
	close(a);
	a = accept(la, NULL, NULL);
	hear(a, "three");
	say(a, "THREE");
	close(a);
	hear(a4, "late");
	say(a4, "LATE");
	hear(a5, "five");
	hear(a6, "six");
	say(a5, "FIVE");
	say(a6, "SIX");
	child_reap(pid, 40);
	unlink(path);
	pass();
}
