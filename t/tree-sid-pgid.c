/* Children in a new session (with their own children), a new group, a sibling's group and the root's group: every process checks the group and session of all it knows. */
#include "lib.h"

enum how { SAME, SETSID, NEWPG, JOIN };

/* Each parent comes before its children. */
static const struct spec {
	char name, parent;
	enum how how;
	char join;		/* JOIN: the group of this one */
} spec[] = {
	{ 'A', 'R', SETSID, 0 },
	{ 'E', 'A', SAME, 0 },
	{ 'F', 'A', NEWPG, 0 },
	{ 'B', 'R', NEWPG, 0 },
	{ 'C', 'R', JOIN, 'B' },
	{ 'D', 'R', SAME, 0 },
};

#define NSPEC (int)(sizeof(spec) / sizeof(spec[0]))

struct proc {
	char name;
	pid_t pid, pgid, sid;
};

static struct proc known[NSPEC + 1];
static int nknown;

static struct proc *find(char name)
{
	int i;

	for (i = 0; i < nknown; i++)
		if (known[i].name == name)
			return &known[i];
	fail("%c is not known", name);
}

/* Record where process s (pid) must be, by its parent's place. */
static struct proc *know(const struct spec *s, pid_t pid)
{
	const struct proc *parent = find(s->parent);
	struct proc *p = &known[nknown++];

	p->name = s->name;
	p->pid = pid;
	p->pgid = s->how == SAME ? parent->pgid :
		  s->how == JOIN ? find(s->join)->pid : pid;
	p->sid = s->how == SETSID ? pid : parent->sid;
	return p;
}

static void check_all(char me)
{
	int i;

	for (i = 0; i < nknown; i++) {
		const struct proc *p = &known[i];
		pid_t g = getpgid(p->pid), s = getsid(p->pid);

		if (g != p->pgid || s != p->sid)
			fail("%c: %c (pid %d) is in group %d session %d, want "
			     "%d %d", me, p->name, (int)p->pid, (int)g, (int)s,
			     (int)p->pgid, (int)p->sid);
	}
}

int main(int argc, char **argv)
{
	pid_t kids[NSPEC];
	int codes[NSPEC], sync[2], nkids = 0, i;
	char me = 'R';

	test_init(argc, argv);
	sync_open(sync);
	known[nknown++] = (struct proc){ 'R', getpid(), getpgrp(), getsid(0) };
	for (i = 0; i < NSPEC; i++) {
		const struct spec *s = &spec[i];
		struct proc *p;
		pid_t pid;

		if (s->parent != me)
			continue;
		pid = xfork();
		if (!pid) {
			me = s->name;
			nkids = 0;
			p = know(s, getpid());
			if (s->how == SETSID ? setsid() != p->sid :
			    s->how != SAME && setpgid(0, p->pgid))
				fail("%c: setsid/setpgid: %s", me,
				     strerror(errno));
			continue;
		}
		p = know(s, pid);
		if ((s->how == NEWPG || s->how == JOIN) &&
		    setpgid(pid, p->pgid))
			fail("%c: setpgid(%d, %d): %s", me, (int)pid,
			     (int)p->pgid, strerror(errno));
		kids[nkids] = pid;
		codes[nkids++] = s->name;
	}
	if (me != 'R') {
		child_ready(sync);
	} else {
		children_ready(sync, NSPEC);
		test_ready();
	}
	test_wait();

	check_all(me);
	children_end(kids, codes, nkids);
	if (me != 'R')
		exit(me);
	pass();
}
