/*
 * A process in another cgroup v1 (with a controller) than cr's is refused
 * at dump, naming the hierarchy: restore could not put it back.  The test
 * moves itself into a child of its pids (or another controller's) v1
 * cgroup; without cgroup v1 it is skipped.  At the end it moves back.
 */
#include "lib.h"
#include <limits.h>
#include <sys/stat.h>

static char orig[2 * PATH_MAX], dir[2 * PATH_MAX + 64];

static bool join(const char *cg)
{
	char path[PATH_MAX + 128];
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

/* A v1 hierarchy with controller ctl: its mount point and our path in it. */
static bool v1_find(const char *ctl, char *mnt, char *path)
{
	static char mi[64 * 1024], cg[8192];
	char *line, *next, *p, want[64];

	snprintf(want, sizeof(want), ":%s:", ctl);
	if (read_file("/proc/self/cgroup", cg, sizeof(cg)) < 0 ||
	    !(p = strstr(cg, want)))
		return false;
	snprintf(path, PATH_MAX, "%.*s", (int)strcspn(p + strlen(want), "\n"),
		 p + strlen(want));
	if (read_file("/proc/self/mountinfo", mi, sizeof(mi)) < 0)
		return false;
	snprintf(want, sizeof(want), ",%s", ctl);
	for (line = mi; *line; line = next) {
		char root[PATH_MAX];

		next = strchr(line, '\n');
		next = next ? (*next = 0, next + 1) : line + strlen(line);
		if (strstr(line, " - cgroup ") && strstr(line, want) &&
		    sscanf(line, "%*u %*u %*s %4095s %4095s", root, mnt) == 2 &&
		    !strcmp(root, "/"))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	static const char *const ctls[] = { "pids", "freezer", "devices" };
	char mnt[PATH_MAX], path[PATH_MAX];
	size_t i;

	test_init(argc, argv);
	for (i = 0; i < 3; i++)
		if (v1_find(ctls[i], mnt, path))
			break;
	if (i == 3)
		skip("no cgroup v1 hierarchy with a controller");
	snprintf(orig, sizeof(orig), "%s%s", mnt, strcmp(path, "/") ? path : "");
	snprintf(dir, sizeof(dir), "%s/cr-test-%d", orig, (int)getpid());
	if (mkdir(dir, 0755) && errno != EEXIST)
		skip("cannot create a v1 cgroup");
	if (!join(dir)) {
		rmdir(dir);
		skip("cannot move into a v1 cgroup");
	}

	test_ready();
	test_wait();

	if (!join(orig) || rmdir(dir))
		fail("cleaning up %s: %s", dir, strerror(errno));
	pass();
}
