/* A real interactive program on a pty: top (procps), on the slave of a pty whose master the test holds as script(1) would, goes on after restore: it refreshes, 'h' brings its help screen up and 'q' back, the window size is kept, 'q' quits it. */
#include "lib.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

#define TOP "/usr/bin/top"

static char screen[1 << 16];
static size_t len;

/* Read the master until want shows in what it printed (10 s at most). */
static void until(int m, const char *want)
{
	long long end = mono_ns() + 10 * NS_PER_SEC;
	struct pollfd p = { m, POLLIN, 0 };

	while (!strstr(screen, want)) {
		ssize_t r;

		if (mono_ns() > end || poll(&p, 1, 100) < 0)
			fail("no \"%s\" from top in 10 s: ...%s", want,
			     screen + (len > 300 ? len - 300 : 0));
		if (!(p.revents & POLLIN))
			continue;
		if (len > sizeof(screen) / 2) {	/* keep the newest half */
			memmove(screen, screen + len / 2, len - len / 2 + 1);
			len -= len / 2;
		}
		r = read(m, screen + len, sizeof(screen) - 1 - len);
		if (r <= 0)
			fail("reading from top: %s", r ? strerror(errno) : "EOF");
		len += r;
		screen[len] = 0;
		for (size_t i = len - r; i < len; i++)
			if (!screen[i])
				screen[i] = ' ';
	}
}

static void key(int m, const char *k)
{
	len = 0;
	screen[0] = 0;
	if (write(m, k, strlen(k)) != (ssize_t)strlen(k))
		fail("typing %s: %s", k, strerror(errno));
}

int main(int argc, char **argv)
{
	struct winsize ws = { 24, 80, 0, 0 };
	char spath[64];
	pid_t pid;
	int m;

	test_init(argc, argv);
	if (access(TOP, X_OK))
		skip("no " TOP " (Debian package procps)");
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, spath, sizeof(spath)))
		fail("posix_openpt: %s", strerror(errno));
	pid = xfork();
	if (!pid) {
		int s;

		setsid();
		s = open(spath, O_RDWR);	/* the controlling terminal */
		if (s < 0 || ioctl(s, TIOCSWINSZ, &ws) || dup2(s, 0) < 0 ||
		    dup2(s, 1) < 0 || dup2(s, 2) < 0)
			_exit(90);
		syscall(SYS_close_range, 3, ~0u, 0);
		execle(TOP, "top", "-d", "0.5", NULL,
		       (char *const[]){ "TERM=xterm", "LC_ALL=C", "HOME=/",
					"PATH=/usr/bin:/bin", NULL });
		_exit(91);
	}
	until(m, "load average");
	until(m, "Tasks:");
	test_ready();
	test_wait();

	if (ioctl(m, TIOCGWINSZ, &ws) || ws.ws_row != 24 || ws.ws_col != 80)
		fail("window %dx%d, want 24x80", ws.ws_row, ws.ws_col);
	until(m, "load average");	/* still refreshing */
	key(m, "h");
	until(m, "Help for Interactive Commands");
	key(m, "q");		/* back from the help screen */
	until(m, "load average");
	key(m, "q");
	child_reap(pid, 0);
	pass();
}
