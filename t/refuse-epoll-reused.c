/* An epoll registration whose fd number now holds another file: cr dump must refuse (restore by number would register the wrong file) and leave the process running. */
#include "fdlib.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
	int ep, efd, keep, other;
	uint64_t v = 1;

	test_init(argc, argv);
	ep = epoll_create1(0);
	efd = eventfd(0, EFD_NONBLOCK);
	if (ep < 0 || efd < 0)
		fail("creating: %s", strerror(errno));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev))
		fail("epoll_ctl: %s", strerror(errno));
	keep = fcntl(efd, F_DUPFD, 100);
	if (keep < 0 || close(efd))
		fail("dup: %s", strerror(errno));
	other = eventfd(0, EFD_NONBLOCK);	/* takes efd's number */
	if (other != efd)
		fail("the new eventfd is fd %d, not %d", other, efd);
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");

	/* the registration is the old file's: the new one is not in it */
	if (write(other, &v, 8) != 8)
		fail("write: %s", strerror(errno));
	if (epoll_wait(ep, &ev, 1, 0) != 0)
		fail("the fd that took the number is reported");
	if (write(keep, &v, 8) != 8)
		fail("write: %s", strerror(errno));
	if (epoll_wait(ep, &ev, 1, 0) != 1 || ev.data.u64 != 42)
		fail("the registration of the closed fd is gone");
	pass();
}
