/* More unread input on a pty than cr could put back (over 4000 bytes): cr dump must refuse before reading any of it, and every byte is still there for the process. */
#include "lib.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

#define N 6000

int main(int argc, char **argv)
{
	static char buf[N], got[N];
	struct pollfd p;
	struct termios tio;
	char path[64];
	size_t len = 0;
	int m, s;

	test_init(argc, argv);
	m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, path, sizeof(path)))
		fail("posix_openpt: %s", strerror(errno));
	s = open(path, O_RDWR | O_NOCTTY);
	if (s < 0 || tcgetattr(s, &tio))
		fail("%s: %s", path, strerror(errno));
	cfmakeraw(&tio);
	if (tcsetattr(s, TCSANOW, &tio))
		fail("tcsetattr: %s", strerror(errno));
	pattern_fill(buf, N, 7);
	if (write(m, buf, N) != N)
		fail("write to the master: %s", strerror(errno));
	sleep_us(100000);
	test_ready();
	test_wait();
	p = (struct pollfd){ s, POLLIN, 0 };
	while (len < N && poll(&p, 1, 2000) == 1) {
		ssize_t r = read(s, got + len, N - len);

		if (r <= 0)
			fail("read: %s", strerror(errno));
		len += r;
	}
	if (len != N || pattern_check(got, N, 7) >= 0)
		fail("read %zu of %d bytes back, first bad at %ld", len, N,
		     pattern_check(got, len, 7));
	pass();
}
