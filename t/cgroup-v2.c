/*
 * cgroup v2 membership is restored: the test makes a child cgroup under
 * its own, moves itself in, and after restore must be in it again.  At
 * the end it moves back and removes the child.  Skipped without a
 * writable cgroup2 mount.
 */
#include "lib.h"
#include <limits.h>
#include <sys/stat.h>

static char base[PATH_MAX], mine[2 * PATH_MAX], dir[3 * PATH_MAX];

/* The path after "0::" in /proc/self/cgroup, "" if none. */
static void cgroup_now(char *out, size_t size)
{
	char buf[4096], *p;

	*out = 0;
	if (read_file("/proc/self/cgroup", buf, sizeof(buf)) < 0)
		fail("read /proc/self/cgroup: %s", strerror(errno));
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, "0::", 3)) {
			snprintf(out, size, "%.*s", (int)strcspn(p + 3, "\n"),
				 p + 3);
			return;
		}
}

/* Mount point of cgroup2 (with root "/"), "" if none. */
static void cgroup2_mount(char *out, size_t size)
{
	static char buf[64 * 1024];
	char *line, *next, root[PATH_MAX], mnt[PATH_MAX];

	*out = 0;
	if (read_file("/proc/self/mountinfo", buf, sizeof(buf)) < 0)
		return;
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? (*next = 0, next + 1) : line + strlen(line);
		if (strstr(line, " - cgroup2 ") &&
		    sscanf(line, "%*u %*u %*s %4095s %4095s", root, mnt) == 2 &&
		    !strcmp(root, "/")) {
			snprintf(out, size, "%s", mnt);
			return;
		}
	}
}

static bool join(const char *cg)
{
	char path[PATH_MAX + 32];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = write(fd, "0\n", 2) == 2;
	close(fd);
	return ok;
}

int main(int argc, char **argv)
{
	char own[PATH_MAX], want[PATH_MAX + 64], now[PATH_MAX];

	test_init(argc, argv);
	cgroup2_mount(base, sizeof(base));
	cgroup_now(own, sizeof(own));
	if (!*base || !*own)
		skip("no cgroup2 mount");
	snprintf(mine, sizeof(mine), "%s%s", base, strcmp(own, "/") ? own : "");
	snprintf(want, sizeof(want), "%s/cr-test-%d",
		 strcmp(own, "/") ? own : "", (int)getpid());
	snprintf(dir, sizeof(dir), "%s%s", base, want);
	if (mkdir(dir, 0755) && errno != EEXIST)
		skip("cannot create a cgroup");
	if (!join(dir)) {
		rmdir(dir);
		skip("cannot move into a child cgroup");
	}
	cgroup_now(now, sizeof(now));
	if (strcmp(now, want))
		fail("in cgroup %s, want %s", now, want);

	test_ready();
	test_wait();

	cgroup_now(now, sizeof(now));
	if (strcmp(now, want))
		fail("in cgroup %s after restore, was %s", now, want);
	if (!join(mine) || rmdir(dir))
		fail("cleaning up cgroup %s: %s", dir, strerror(errno));
	pass();
}
