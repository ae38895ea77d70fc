/* A session leader exited; its children (one in its group, one in a group of its own, with a child, and a zombie) were adopted by the subreaper root: pids, parents, groups and session are kept, the zombie's exit status too, the leader's pid stays free, and the session still works. */
#include "lib.h"
#include <sys/mman.h>
#include <sys/prctl.h>

/* R, C (the leader, exits), G1, G2 (own group), G3 (G1's child), Z */
static struct proc_want *w;

enum { R, C, G1, G2, G3, Z, N };

static void check_one(int i, const char *me)
{
	check_proc(&w[i], me);
}

/* The root's children, from /proc: exactly G1, G2 and Z, in any order. */
static void check_children(void)
{
	pid_t k[3];
	int found = 0;

	my_children(k, 3);
	for (int i = 0; i < 3; i++)
		found |= (k[i] == w[G1].pid) << 0 | (k[i] == w[G2].pid) << 1 |
			 (k[i] == w[Z].pid) << 2;
	if (found != 7)
		fail("root's children are %d %d %d, want %d %d %d", (int)k[0],
		     (int)k[1], (int)k[2], (int)w[G1].pid, (int)w[G2].pid,
		     (int)w[Z].pid);
}

static void g3(int sync[2])
{
	w[G3].pid = getpid();
	child_ready(sync);
	test_wait();
	check_one(G3, "G3");
	exit(23);
}

static void g1(int sync[2])
{
	pid_t k;

	w[G1].pid = getpid();
	w[G3] = (struct proc_want){ 0, getpid(), w[C].pid, w[C].pid };
	k = xfork();
	if (!k)
		g3(sync);
	child_ready(sync);
	test_wait();
	check_one(G1, "G1");
	/* a child forked now is in the session too */
	if (!(k = xfork()))
		_exit(getsid(0) == w[C].pid && getpgrp() == w[C].pid ? 9 : 10);
	child_reap(k, 9);
	children_end(&w[G3].pid, (int[]){ 23 }, 1);
	exit(21);
}

static void g2(int sync[2])
{
	w[G2].pid = getpid();
	if (setpgid(0, 0))
		fail("G2: setpgid: %s", strerror(errno));
	child_ready(sync);
	test_wait();
	check_one(G2, "G2");
	/* the exited leader's group is still there, in our session */
	if (setpgid(0, w[C].pid) || getpgrp() != w[C].pid)
		fail("G2: joining group %d: %s", (int)w[C].pid,
		     strerror(errno));
	exit(22);
}

int main(int argc, char **argv)
{
	int sync[2];
	pid_t c, z, kids[2];

	test_init(argc, argv);
	w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (w == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	w[R] = (struct proc_want){ getpid(), getppid(), getpgrp(), getsid(0) };
	sync_open(sync);
	c = xfork();
	if (!c) {
		if (setsid() < 0)
			fail("C: setsid: %s", strerror(errno));
		w[C].pid = getpid();
		w[G1] = (struct proc_want){ 0, w[R].pid, getpid(), getpid() };
		w[G2] = (struct proc_want){ 0, w[R].pid, 0, getpid() };
		w[Z] = (struct proc_want){ 0, w[R].pid, getpid(), getpid() };
		if (!(z = xfork()))
			_exit(5);
		w[Z].pid = z;	/* not in the child: w is shared */
		if (!xfork())
			g1(sync);
		if (!xfork())
			g2(sync);
		_exit(7);
	}
	children_ready(sync, 3);
	child_reap(c, 7);
	{
		siginfo_t si;	/* adopted; a zombie once it exited */

		while (waitid(P_PID, w[Z].pid, &si, WEXITED | WNOWAIT))
			if (errno != EINTR)
				fail("waitid: %s", strerror(errno));
	}
	w[G2].pgid = w[G2].pid;
	test_ready();
	test_wait();

	for (int i = G1; i < N; i++)
		check_one(i, "R");
	if (proc_state(c, NULL) || !kill(c, 0) || errno != ESRCH)
		fail("the exited leader's pid %d is in use", (int)c);
	if (proc_state(w[Z].pid, NULL) != 'Z')
		fail("%d is not a zombie", (int)w[Z].pid);
	check_children();
	kids[0] = w[G1].pid, kids[1] = w[G2].pid;
	children_end(kids, (int[]){ 21, 22 }, 2);
	child_reap(w[Z].pid, 5);
	pass();
}
