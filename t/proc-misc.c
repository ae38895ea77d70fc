/* comm, personality, cmdline, environ, exe, auxv, mm layout fields of /proc/self/stat, ids, sid/pgid are restored. */
#include "lib.h"
#include <limits.h>
#include <sys/personality.h>
#include <sys/prctl.h>

#define NAME "crtest-name"

static const char *const files[] = {
	"/proc/self/cmdline", "/proc/self/environ", "/proc/self/auxv",
	"/proc/self/comm",
};
#define NFILES 4

/* startcode endcode startstack, start_data .. env_end */
static const int stat_fields[] = { 26, 27, 28, 45, 46, 47, 48, 49, 50, 51 };
#define NSTAT 10

struct state {
	uint64_t file_sum[NFILES];
	ssize_t file_len[NFILES];
	unsigned long long stat[NSTAT];
	char exe[PATH_MAX], name[16];
	uid_t uid[3];
	gid_t gid[3], groups[64];
	int ngroups, persona;
	pid_t sid, pgid;
};

static char buf[64 * 1024];

static void take(struct state *s)
{
	ssize_t n;
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < NFILES; i++) {
		s->file_len[i] = read_file(files[i], buf, sizeof(buf));
		if (s->file_len[i] > 0)
			s->file_sum[i] = csum(buf, s->file_len[i]);
	}
	for (i = 0; i < NSTAT; i++)
		s->stat[i] = proc_stat_field(stat_fields[i]);
	n = readlink("/proc/self/exe", s->exe, sizeof(s->exe) - 1);
	if (n < 0)
		fail("readlink exe: %s", strerror(errno));
	prctl(PR_GET_NAME, s->name);
	getresuid(&s->uid[0], &s->uid[1], &s->uid[2]);
	getresgid(&s->gid[0], &s->gid[1], &s->gid[2]);
	s->ngroups = getgroups(64, s->groups);
	s->persona = personality(0xffffffff);
	s->sid = getsid(0);
	s->pgid = getpgrp();
}

int main(int argc, char **argv)
{
	struct state a, b;
	int i;

	test_init(argc, argv);
	if (prctl(PR_SET_NAME, NAME))
		fail("PR_SET_NAME: %s", strerror(errno));
	if (personality(personality(0xffffffff) | ADDR_NO_RANDOMIZE) < 0)
		fail("personality: %s", strerror(errno));
	take(&a);
	if (strcmp(a.name, NAME) || !(a.persona & ADDR_NO_RANDOMIZE))
		fail("name %s personality %#x not set", a.name, a.persona);
	if (a.sid != test_pid)
		fail("not a session leader (sid %d)", (int)a.sid);

	test_ready();
	test_wait();

	take(&b);
	for (i = 0; i < NFILES; i++)
		if (a.file_len[i] != b.file_len[i] ||
		    a.file_sum[i] != b.file_sum[i])
			fail("%s changed (%zd bytes, was %zd)", files[i],
			     b.file_len[i], a.file_len[i]);
	for (i = 0; i < NSTAT; i++)
		if (a.stat[i] != b.stat[i])
			fail("/proc/self/stat field %d is %#llx, was %#llx",
			     stat_fields[i], b.stat[i], a.stat[i]);
	if (strcmp(a.exe, b.exe))
		fail("exe is %s, was %s", b.exe, a.exe);
	if (strcmp(a.name, b.name))
		fail("comm is %s, was %s", b.name, a.name);
	if (a.persona != b.persona)
		fail("personality %#x, was %#x", b.persona, a.persona);
	if (a.sid != b.sid || a.pgid != b.pgid)
		fail("sid/pgid %d/%d, was %d/%d", (int)b.sid, (int)b.pgid,
		     (int)a.sid, (int)a.pgid);
	if (memcmp(a.uid, b.uid, sizeof(a.uid)) ||
	    memcmp(a.gid, b.gid, sizeof(a.gid)) || a.ngroups != b.ngroups ||
	    memcmp(a.groups, b.groups, sizeof(a.groups)))
		fail("uids/gids/groups changed");
	pass();
}
