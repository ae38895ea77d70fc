/* Pseudo-terminals in the tree: a session on a pty's slave (controlling terminal, foreground group, /dev/tty) whose master the parent holds, with non-default termios, window size and packet mode, and a second, raw, locked, exclusive pty made by /dev/pts/ptmx; bytes queued both ways on both come back exactly, canonical lines included. */
#include "lib.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>

/* typed at the slave (in canonical mode '#' erases, ^V escapes) */
#define TYPED "in-#line\026#1\npartial"
#define LINE1 "inline#1\n"		/* what the slave reads of it */
#define OUT1 "out-pending\n"		/* written to the slave, not read */
static const char raw_in[] = "\177\003\r\nraw\0\377";	/* raw pty, to its slave */
static const char raw_out[] = "out\n\r\001";		/* from its slave */

static int pty_open(const char *ptmx, char *path, size_t size, int *index)
{
	int m = open(ptmx, O_RDWR | O_NOCTTY);

	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, path, size) ||
	    ioctl(m, TIOCGPTN, index))
		fail("posix_openpt: %s", strerror(errno));
	return m;
}

/* Read exactly n bytes from fd (blocking up to 10 s). */
static void read_n(int fd, char *buf, size_t n, const char *what)
{
	struct pollfd p = { fd, POLLIN, 0 };
	size_t got = 0;

	while (got < n) {
		ssize_t r;

		if (poll(&p, 1, 10000) != 1)
			fail("%s: %zu of %zu bytes in 10 s", what, got, n);
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			fail("%s: read: %s", what, r ? strerror(errno) : "EOF");
		got += r;
	}
}

/* Read the master (packet mode: a 0 byte before data) until want shows. */
static void master_until(int m, const char *want, char *acc, size_t size)
{
	struct pollfd p = { m, POLLIN, 0 };
	size_t len = strlen(acc);

	while (!strstr(acc, want)) {
		char buf[256];
		ssize_t r;

		if (poll(&p, 1, 10000) != 1)
			fail("master: no \"%s\" in 10 s, got \"%s\"", want, acc);
		r = read(m, buf, sizeof(buf) - 1);
		if (r <= 0)
			fail("master: read: %s", r ? strerror(errno) : "EOF");
		if (buf[0] != TIOCPKT_DATA)
			continue;	/* a status byte */
		if (len + r >= size)
			fail("master: too much: %s", acc);
		memcpy(acc + len, buf + 1, r - 1);
		len += r - 1;
		acc[len] = 0;
	}
}

static void child(const char *spath, int sync[2])
{
	struct winsize ws = { 37, 111, 5, 7 };
	struct termios tio;
	char buf[64];
	int s, dt, fl;
	pid_t gc;
	ssize_t n;

	signal(SIGTTOU, SIG_IGN);
	if (setsid() < 0)
		fail("setsid: %s", strerror(errno));
	s = open(spath, O_RDWR | O_NOCTTY);
	if (s < 0 || ioctl(s, TIOCSCTTY, 0))
		fail("child: taking %s: %s", spath, strerror(errno));
	if (tcgetattr(s, &tio))
		fail("tcgetattr: %s", strerror(errno));
	tio.c_lflag &= ~ECHO;
	tio.c_cc[VINTR] = 007;
	tio.c_cc[VERASE] = '#';
	cfsetispeed(&tio, B9600);
	cfsetospeed(&tio, B9600);
	if (tcsetattr(s, TCSANOW, &tio) || ioctl(s, TIOCSWINSZ, &ws))
		fail("tcsetattr: %s", strerror(errno));
	dt = open("/dev/tty", O_RDWR);
	if (dt < 0)
		fail("child: /dev/tty: %s", strerror(errno));
	gc = xfork();
	if (!gc) {
		setpgid(0, 0);
		close(s);
		close(dt);
		child_ready(sync);
		test_wait();
		exit(51);
	}
	setpgid(gc, gc);
	if (tcsetpgrp(s, gc))
		fail("tcsetpgrp: %s", strerror(errno));
	if (write(s, OUT1, strlen(OUT1)) != (ssize_t)strlen(OUT1))
		fail("child: write: %s", strerror(errno));
	child_ready(sync);
	test_wait();

	if (tcgetsid(s) != getpid())
		fail("child: the pty's session is %d, want %d", (int)tcgetsid(s),
		     (int)getpid());
	{
		struct stat sb;

		if (stat(spath, &sb) || proc_stat_field(7) != sb.st_rdev)
			fail("child: controlling terminal %llu, want %s",
			     proc_stat_field(7), spath);
	}
	if (tcgetpgrp(s) != gc || tcgetpgrp(dt) != gc)
		fail("child: foreground group %d/%d, want %d", (int)tcgetpgrp(s),
		     (int)tcgetpgrp(dt), (int)gc);
	memset(&ws, 0, sizeof(ws));
	if (tcgetattr(s, &tio) || ioctl(s, TIOCGWINSZ, &ws))
		fail("child: tcgetattr: %s", strerror(errno));
	if ((tio.c_lflag & ECHO) || !(tio.c_lflag & ICANON) ||
	    tio.c_cc[VINTR] != 007 || tio.c_cc[VERASE] != '#' ||
	    cfgetospeed(&tio) != B9600 || cfgetispeed(&tio) != B9600)
		fail("child: termios lflag %#x intr %d erase %d speed %d",
		     tio.c_lflag, tio.c_cc[VINTR], tio.c_cc[VERASE],
		     (int)cfgetospeed(&tio));
	if (ws.ws_row != 37 || ws.ws_col != 111 || ws.ws_xpixel != 5 ||
	    ws.ws_ypixel != 7)
		fail("child: window %dx%d", ws.ws_row, ws.ws_col);
	if (tcsetpgrp(s, getpgrp()))
		fail("child: tcsetpgrp: %s", strerror(errno));
	if (write(dt, "devtty\n", 7) != 7)
		fail("child: write /dev/tty: %s", strerror(errno));

	/* the queued input: one whole line, then a partial one */
	n = read(s, buf, sizeof(buf) - 1);
	if (n < 0)
		fail("child: read: %s", strerror(errno));
	buf[n] = 0;
	if (strcmp(buf, LINE1))
		fail("child: read \"%s\", want \"%s\"", buf, LINE1);
	fl = fcntl(s, F_GETFL);
	fcntl(s, F_SETFL, fl | O_NONBLOCK);
	if (read(s, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		fail("child: the partial line is readable before its end");
	fcntl(s, F_SETFL, fl);
	if (write(s, "go\n", 3) != 3)
		fail("child: write: %s", strerror(errno));
	n = read(s, buf, sizeof(buf) - 1);
	if (n < 0)
		fail("child: read: %s", strerror(errno));
	buf[n] = 0;
	if (strcmp(buf, "partial-end\n"))
		fail("child: read \"%s\", want \"partial-end\\n\"", buf);
	kill(gc, SIGTERM);
	child_reap(gc, 51);
	exit(50);
}

int main(int argc, char **argv)
{
	char spath[64], spath2[64], buf[256], acc[1024] = "";
	struct winsize ws;
	struct termios tio;
	int m, m2, s2, index, index2, v, one = 1, sync[2];
	pid_t pid;

	test_init(argc, argv);
	m = pty_open("/dev/ptmx", spath, sizeof(spath), &index);
	if (ioctl(m, TIOCPKT, &one))
		fail("TIOCPKT: %s", strerror(errno));

	/* a raw, exclusive pty, locked again once its slave is open, made
	   by the devpts instance's own ptmx */
	m2 = pty_open("/dev/pts/ptmx", spath2, sizeof(spath2), &index2);
	s2 = open(spath2, O_RDWR | O_NOCTTY);
	if (s2 < 0 || tcgetattr(s2, &tio))
		fail("%s: %s", spath2, strerror(errno));
	cfmakeraw(&tio);
	if (tcsetattr(s2, TCSANOW, &tio) || ioctl(s2, TIOCEXCL) ||
	    ioctl(m2, TIOCSPTLCK, &one))
		fail("%s: raw, exclusive, locked: %s", spath2, strerror(errno));
	if (write(m2, raw_in, sizeof(raw_in)) != sizeof(raw_in) ||
	    write(s2, raw_out, sizeof(raw_out)) != sizeof(raw_out))
		fail("writing to %s: %s", spath2, strerror(errno));

	sync_open(sync);
	pid = xfork();
	if (!pid) {
		close(m);
		close(m2);
		close(s2);
		child(spath, sync);
	}
	children_ready(sync, 2);
	if (write(m, TYPED, strlen(TYPED)) != (ssize_t)strlen(TYPED))
		fail("write to the master: %s", strerror(errno));
	test_ready();
	test_wait();

	if (ioctl(m, TIOCGPTN, &v) || v != index)
		fail("pty number %d, want %d", v, index);
	if (ioctl(m, TIOCGPKT, &v) || v != 1)
		fail("packet mode %d, want 1", v);
	if (ioctl(m, TIOCGWINSZ, &ws) || ws.ws_row != 37 || ws.ws_col != 111)
		fail("master: window %dx%d, want 37x111", ws.ws_row, ws.ws_col);
	if (ioctl(m2, TIOCGPTN, &v) || v != index2)
		fail("second pty number %d, want %d", v, index2);
	{
		char link[64], path[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", m2);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = 0;
		if (strcmp(link, "/dev/pts/ptmx"))
			fail("second pty's master is %s, want /dev/pts/ptmx", link);
	}
	if (ioctl(m2, TIOCGPTLCK, &v) || v != 1)
		fail("second pty: lock %d, want 1", v);
	if (ioctl(s2, TIOCGEXCL, &v) || v != 1)
		fail("second pty: exclusive %d, want 1", v);
	if (tcgetattr(s2, &tio) || (tio.c_lflag & (ICANON | ECHO)) ||
	    (tio.c_oflag & OPOST))
		fail("second pty: not raw (lflag %#x)", tio.c_lflag);
	read_n(s2, buf, sizeof(raw_in), "second pty's slave");
	if (memcmp(buf, raw_in, sizeof(raw_in)))
		fail("second pty's slave read other bytes");
	read_n(m2, buf, sizeof(raw_out), "second pty's master");
	if (memcmp(buf, raw_out, sizeof(raw_out)))
		fail("second pty's master read other bytes");

	/* the slave's queued output first, then what the child says */
	master_until(m, "out-pending\r\n", acc, sizeof(acc));
	if (strncmp(acc, "out-pending\r\n", 13))
		fail("master read \"%s\" first", acc);
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	master_until(m, "go\r\n", acc, sizeof(acc));
	if (!strstr(acc, "devtty\r\n"))
		fail("nothing written to /dev/tty came: \"%s\"", acc);
	if (write(m, "-end\n", 5) != 5)
		fail("write to the master: %s", strerror(errno));
	child_reap(pid, 50);
	pass();
}
