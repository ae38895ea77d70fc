/* An epoll registration whose fd number was closed (the file lives on under a dup) cannot be restored by number: cr dump must refuse and leave the process running. */
#include "fdlib.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
	int ep, efd, keep;
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
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");

	/* the registration is still there, under the closed number */
	if (write(keep, &v, 8) != 8)
		fail("write: %s", strerror(errno));
	if (epoll_wait(ep, &ev, 1, 0) != 1 || ev.data.u64 != 42)
		fail("the registration of the closed fd is gone");
	pass();
}
