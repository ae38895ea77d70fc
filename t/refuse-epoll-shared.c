/* One epoll instance shared by a parent and its child (created before fork): after restore both hold the same instance, so a change made by one is seen by the other. */
#include "fdlib.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>

static void efd_add(int fd, uint64_t v)
{
	if (write(fd, &v, 8) != 8)
		fail("eventfd write: %s", strerror(errno));
}

/* epoll_wait(ep) must give exactly one event: events, data. */
static void expect_one(int ep, unsigned events, uint64_t data,
		       const char *who)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, 5000);

	if (n != 1 || ev[0].events != events || ev[0].data.u64 != data)
		fail("%s: %d events, first %#x data %#llx; want %#x %#llx",
		     who, n, n > 0 ? ev[0].events : 0,
		     n > 0 ? (unsigned long long)ev[0].data.u64 : 0ull,
		     events, (unsigned long long)data);
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234 };
	int ep, a, b, sync[2], done[2];
	char c;
	pid_t pid;

	test_init(argc, argv);
	ep = epoll_create1(0);
	a = eventfd(1, EFD_NONBLOCK);
	b = eventfd(0, EFD_NONBLOCK);
	if (ep < 0 || a < 0 || b < 0 || pipe(done))
		fail("creating: %s", strerror(errno));
	if (epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev))
		fail("epoll_ctl: %s", strerror(errno));
	sync_open(sync);
	pid = xfork();
	if (!pid) {
		close(done[0]);
		child_ready(sync);
		test_wait();
		if (!same_file(getpid(), ep, getppid(), ep))
			fail("child: the epoll is not the parent's");
		expect_one(ep, EPOLLIN, 0x1234, "child");
		/* the child adds b; the parent will see it */
		ev.data.u64 = 0x5678;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev) ||
		    epoll_ctl(ep, EPOLL_CTL_DEL, a, NULL))
			fail("child: epoll_ctl: %s", strerror(errno));
		if (write(done[1], "x", 1) != 1)
			fail("child: write: %s", strerror(errno));
		exit(60);
	}
	close(done[1]);
	children_ready(sync, 1);
	test_ready();
	test_wait();

	expect_one(ep, EPOLLIN, 0x1234, "parent");
	if (kill(pid, SIGTERM))
		fail("kill: %s", strerror(errno));
	if (read(done[0], &c, 1) != 1)
		fail("the child did not change the epoll");
	efd_add(b, 1);
	/* the child's ADD of b and DEL of a show here */
	expect_one(ep, EPOLLIN, 0x5678, "parent after the child's change");
	child_reap(pid, 60);
	pass();
}
