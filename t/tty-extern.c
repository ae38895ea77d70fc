/* A pty whose master is outside the tree (as a tmux pane's or an ssh session's is): the slave is the session's controlling terminal, also open as /dev/tty; after restore it is the same terminal again, with what was queued on it, and the program outside still answers. */
#include "lib.h"
#include <ctype.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>

/* Outside the tree: hold the master, answer each byte in upper case. */
static void __attribute__((noreturn)) holder(int out)
{
	char path[64], buf[256];
	int m = posix_openpt(O_RDWR | O_NOCTTY), nul = open("/dev/null", O_RDWR);
	ssize_t n;

	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, path, sizeof(path)))
		_exit(1);
	dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
	if (write(out, path, strlen(path) + 1) < 0)
		_exit(1);
	close(out);
	for (;;) {		/* EIO: no slave open now (the tree is gone) */
		n = read(m, buf, sizeof(buf));
		if (n < 0 && errno == EIO)
			sleep_us(10000);
		else if (n < 0 && errno != EINTR)
			_exit(1);
		for (ssize_t i = 0; i < n; i++)
			buf[i] = toupper((unsigned char)buf[i]);
		if (n > 0 && write(m, buf, n) != n)
			_exit(1);
	}
}

static void expect(int fd, const char *want)
{
	struct pollfd p = { fd, POLLIN, 0 };
	size_t len = strlen(want), got = 0;
	char buf[64];

	while (got < len) {
		ssize_t r;

		if (poll(&p, 1, 10000) != 1)
			fail("no \"%s\" from the holder in 10 s (%zu bytes)", want, got);
		r = read(fd, buf + got, len - got);
		if (r <= 0)
			fail("read: %s", r ? strerror(errno) : "EOF");
		got += r;
	}
	if (memcmp(buf, want, len))
		fail("read \"%.*s\", want \"%s\"", (int)len, buf, want);
}

int main(int argc, char **argv)
{
	char path[64] = "";
	struct termios tio;
	struct stat sb;
	int p[2], s, dt;
	pid_t a;

	test_init(argc, argv);
	if (pipe(p))
		fail("pipe: %s", strerror(errno));
	a = xfork();
	if (!a) {		/* its own session, and reparented away */
		close(p[0]);
		setsid();
		if (!xfork())
			holder(p[1]);
		_exit(0);
	}
	close(p[1]);
	child_reap(a, 0);
	if (read(p[0], path, sizeof(path) - 1) <= 0)
		fail("no pty from the holder");
	close(p[0]);
	s = open(path, O_RDWR);	/* a session leader: our controlling terminal */
	dt = open("/dev/tty", O_RDWR);
	if (s < 0 || dt < 0 || tcgetattr(s, &tio))
		fail("%s: %s", path, strerror(errno));
	cfmakeraw(&tio);
	if (tcsetattr(s, TCSANOW, &tio))
		fail("tcsetattr: %s", strerror(errno));
	if (write(s, "early", 5) != 5)
		fail("write: %s", strerror(errno));
	sleep_us(200000);	/* EARLY waits in our input queue */
	test_ready();
	test_wait();

	if (stat(path, &sb) || proc_stat_field(7) != sb.st_rdev ||
	    tcgetsid(s) != getpid() || tcgetpgrp(dt) != getpgrp())
		fail("%s is not our controlling terminal (tty_nr %llu, sid %d)",
		     path, proc_stat_field(7), (int)tcgetsid(s));
	if (tcgetattr(s, &tio) || (tio.c_lflag & ICANON))
		fail("%s: no longer raw", path);
	expect(s, "EARLY");
	if (write(dt, "ping", 4) != 4)
		fail("write /dev/tty: %s", strerror(errno));
	expect(s, "PING");
	pass();
}
