/* epoll instances keep every registration (events, 64-bit data, EPOLLET, EPOLLONESHOT armed or spent, nested epoll, one file under two fd numbers): epoll_wait, EPOLL_CTL_MOD and DEL by fd number behave as before. */
#include "fdlib.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>

#define D(n) (0xdead00000000beefull | (unsigned long long)(n) << 16)
#define DUP_FD 300		/* the dup of e4, far from the others */

enum { P0, P1, E1, E2, E3, E4, E4B, E5, Q0, Q1, EIN, NFD };
static int fds[NFD];

static void add(int ep, int fd, unsigned events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		fail("EPOLL_CTL_ADD fd %d: %s", fd, strerror(errno));
}

static void ctl(int ep, int op, int fd, unsigned events, uint64_t data,
		const char *what)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, op, fd, &ev))
		fail("%s: epoll_ctl(%d, fd %d): %s", what, op, fd,
		     strerror(errno));
}

static void efd_add(int fd, uint64_t v)
{
	if (write(fd, &v, 8) != 8)
		fail("eventfd write: %s", strerror(errno));
}

/*
 * epoll_wait(ep) without waiting must return exactly the n (events, data)
 * pairs in want[], in any order.
 */
static void expect_ready(int ep, const struct epoll_event *want, int n,
			 const char *what)
{
	struct epoll_event got[32];
	bool used[32] = { false };
	int k, i, j;

	k = epoll_wait(ep, got, 32, 0);
	if (k < 0)
		fail("%s: epoll_wait: %s", what, strerror(errno));
	for (i = 0; i < k; i++) {
		for (j = 0; j < n; j++)
			if (!used[j] && want[j].data.u64 == got[i].data.u64 &&
			    want[j].events == got[i].events)
				break;
		if (j == n)
			fail("%s: unexpected event %#x data %#llx (%d events, "
			     "want %d)", what, got[i].events,
			     (unsigned long long)got[i].data.u64, k, n);
		used[j] = true;
	}
	for (j = 0; j < n; j++)
		if (!used[j])
			fail("%s: missing event %#x data %#llx (%d events, "
			     "want %d)", what, want[j].events,
			     (unsigned long long)want[j].data.u64, k, n);
}

#define EV(e, d) ((struct epoll_event){ .events = (e), .data.u64 = (d) })

int main(int argc, char **argv)
{
	static char regs[3][4096], now[4096], bad[8192];
	int ep, ep2, p[2], q[2], i;
	char buf[64];

	test_init(argc, argv);
	if (pipe(p) || pipe(q))
		fail("pipe: %s", strerror(errno));
	fds[P0] = p[0];
	fds[P1] = p[1];
	fds[Q0] = q[0];		/* ready, one-shot spent */
	fds[Q1] = q[1];
	fds[E1] = eventfd(0, EFD_NONBLOCK);	/* not ready */
	fds[E2] = eventfd(5, EFD_NONBLOCK);	/* ready, edge-triggered */
	fds[E3] = eventfd(1, EFD_NONBLOCK);	/* ready, one-shot armed */
	fds[E4] = eventfd(2, EFD_NONBLOCK);	/* ready, under two numbers */
	fds[E5] = eventfd(1, EFD_NONBLOCK);	/* ready, in the inner epoll */
	fds[EIN] = epoll_create1(EPOLL_CLOEXEC);
	ep = epoll_create1(0);
	ep2 = epoll_create(1);
	for (i = 0; i < NFD; i++)
		if (i != E4B && fds[i] < 0)
			fail("creating fd %d: %s", i, strerror(errno));
	if (ep < 0 || ep2 < 0)
		fail("epoll_create: %s", strerror(errno));
	fds[E4B] = dup2(fds[E4], DUP_FD);
	if (fds[E4B] != DUP_FD)
		fail("dup2: %s", strerror(errno));
	if (write(p[1], "hello", 5) != 5 || write(q[1], "x", 1) != 1)
		fail("write: %s", strerror(errno));

	add(ep, fds[P0], EPOLLIN | EPOLLRDHUP, D(1));
	add(ep, fds[P1], EPOLLOUT, D(2));
	add(ep, fds[E1], EPOLLIN, D(3));
	add(ep, fds[E2], EPOLLIN | EPOLLET, D(4));
	add(ep, fds[E3], EPOLLIN | EPOLLONESHOT, D(5));
	add(ep, fds[E4], EPOLLIN, D(6));
	add(ep, fds[E4B], EPOLLIN | EPOLLPRI, D(7));
	add(fds[EIN], fds[E5], EPOLLIN, D(8));
	add(ep, fds[EIN], EPOLLIN, D(9));
	add(ep2, fds[Q0], EPOLLIN | EPOLLONESHOT, D(10));
	add(ep2, fds[E1], EPOLLIN, 0);
	/* ep2's one-shot fires now and is spent */
	expect_ready(ep2, (struct epoll_event[]){ EV(EPOLLIN, D(10)) }, 1,
		     "ep2 before the dump");
	fdinfo_lines(ep, "tfd:", 6, regs[0], sizeof(regs[0]));
	fdinfo_lines(ep2, "tfd:", 6, regs[1], sizeof(regs[1]));
	fdinfo_lines(fds[EIN], "tfd:", 6, regs[2], sizeof(regs[2]));
	test_ready();
	test_wait();

	/*
	 * The registrations as the kernel lists them (tfd, events, data);
	 * a difference is told at the end, after what it does.
	 */
	bad[0] = 0;
	for (i = 0; i < 3 && !bad[0]; i++) {
		static const char *const what[3] = { "ep", "ep2", "inner" };

		fdinfo_lines(i == 0 ? ep : i == 1 ? ep2 : fds[EIN], "tfd:", 6,
			     now, sizeof(now));
		if (strcmp(now, regs[i]))
			snprintf(bad, sizeof(bad), "%s registrations: %s; "
				 "were: %s", what[i], now, regs[i]);
	}
	expect_cloexec(fds[EIN], 1, "inner epoll");
	expect_cloexec(ep, 0, "epoll");

	/* what is ready, and with which data */
	expect_ready(ep, (struct epoll_event[]){
			EV(EPOLLIN, D(1)), EV(EPOLLOUT, D(2)),
			EV(EPOLLIN, D(4)), EV(EPOLLIN, D(5)),
			EV(EPOLLIN, D(6)), EV(EPOLLIN, D(7)),
			EV(EPOLLIN, D(9)) }, 7, "first epoll_wait");
	/* edge-triggered and one-shot ones are not reported again */
	expect_ready(ep, (struct epoll_event[]){
			EV(EPOLLIN, D(1)), EV(EPOLLOUT, D(2)),
			EV(EPOLLIN, D(6)), EV(EPOLLIN, D(7)),
			EV(EPOLLIN, D(9)) }, 5, "second epoll_wait");
	/* the spent one-shot stays spent, even for a hang-up */
	expect_ready(ep2, NULL, 0, "ep2");
	close(q[1]);
	expect_ready(ep2, NULL, 0, "ep2 after the hang-up of the spent one");

	/* a new edge; E1 becomes readable */
	efd_add(fds[E2], 1);
	efd_add(fds[E1], 1);
	expect_ready(ep, (struct epoll_event[]){
			EV(EPOLLIN, D(1)), EV(EPOLLOUT, D(2)),
			EV(EPOLLIN, D(3)), EV(EPOLLIN, D(4)),
			EV(EPOLLIN, D(6)), EV(EPOLLIN, D(7)),
			EV(EPOLLIN, D(9)) }, 7, "after writing E1 and E2");
	expect_ready(ep2, (struct epoll_event[]){ EV(EPOLLIN, 0) }, 1,
		     "ep2 after writing E1");

	/* MOD re-arms the one-shots, with new data */
	ctl(ep, EPOLL_CTL_MOD, fds[E3], EPOLLIN | EPOLLONESHOT, D(15),
	    "MOD E3");
	ctl(ep2, EPOLL_CTL_MOD, fds[Q0], EPOLLIN, D(16), "MOD Q0");
	/* DEL by number: the dup, then E1, P1 */
	ctl(ep, EPOLL_CTL_DEL, DUP_FD, 0, 0, "DEL dup");
	ctl(ep, EPOLL_CTL_DEL, fds[E1], 0, 0, "DEL E1");
	ctl(ep, EPOLL_CTL_DEL, fds[P1], 0, 0, "DEL P1");
	if (!epoll_ctl(ep, EPOLL_CTL_DEL, DUP_FD, &EV(0, 0)) || errno != ENOENT)
		fail("DEL of the dup twice did not say ENOENT");
	if (!epoll_ctl(ep, EPOLL_CTL_ADD, fds[E4], &EV(EPOLLIN, 0)) ||
	    errno != EEXIST)
		fail("ADD of E4 again did not say EEXIST: not registered");
	expect_ready(ep, (struct epoll_event[]){
			EV(EPOLLIN, D(1)), EV(EPOLLIN, D(15)),
			EV(EPOLLIN, D(6)), EV(EPOLLIN, D(9)) }, 4,
		     "after MOD and DEL");
	expect_ready(ep2, (struct epoll_event[]){
			EV(EPOLLIN | EPOLLHUP, D(16)), EV(EPOLLIN, 0) }, 2,
		     "ep2 after MOD");

	/* the inner epoll has its own registration; drained, it is quiet */
	expect_ready(fds[EIN], (struct epoll_event[]){ EV(EPOLLIN, D(8)) }, 1,
		     "inner epoll");
	if (read(fds[E5], buf, 8) != 8)
		fail("read E5: %s", strerror(errno));
	expect_ready(fds[EIN], NULL, 0, "inner epoll after reading E5");

	/* the pipe's data, then it is not readable, then its writer hangs
	 * up */
	if (read(p[0], buf, sizeof(buf)) != 5 || memcmp(buf, "hello", 5))
		fail("pipe data lost");
	if (read(fds[E3], buf, 8) != 8 || read(fds[E4], buf, 8) != 8)
		fail("read E3 E4: %s", strerror(errno));
	expect_ready(ep, NULL, 0, "after reading everything");
	close(p[1]);
	expect_ready(ep, (struct epoll_event[]){ EV(EPOLLHUP, D(1)) }, 1,
		     "after closing the writer");
	if (bad[0])
		fail("%s", bad);
	pass();
}
