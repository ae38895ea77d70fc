/* inotify instances keep their watches (directory and files, one renamed, exact masks) under the same watch descriptors, with a gap left by inotify_rm_watch: events after restore carry those wds, and nothing spurious is queued. */
#include "fdlib.h"
#include <sys/inotify.h>

#define DIR_MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_TO)
#define FILE_MASK (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB)

struct ev {
	int wd;
	uint32_t mask;
	const char *name;
};

/*
 * The events queued on fd (waiting up to 2 s for the first) must be
 * exactly want[0..n-1], in order.
 */
static void expect_events(int fd, const struct ev *want, int n,
			  const char *what)
{
	char buf[4096] __attribute__((aligned(8)));
	const struct inotify_event *e;
	int got = 0, i;
	ssize_t len;
	char *p;

	if (n && !poll_fd(fd, POLLIN, 2000))
		fail("%s: no event in 2 s, want %d", what, n);
	while (poll_fd(fd, POLLIN, n ? 50 : 100)) {
		len = read(fd, buf, sizeof(buf));
		if (len <= 0)
			fail("%s: read: %s", what, strerror(errno));
		for (p = buf; p < buf + len; p += sizeof(*e) + e->len) {
			e = (const struct inotify_event *)p;
			i = got++;
			if (i >= n)
				fail("%s: extra event wd %d mask %#x name "
				     "\"%s\"", what, e->wd, e->mask,
				     e->len ? e->name : "");
			if (e->wd != want[i].wd || e->mask != want[i].mask ||
			    strcmp(e->len ? e->name : "", want[i].name))
				fail("%s: event %d is wd %d mask %#x name "
				     "\"%s\", want wd %d mask %#x name \"%s\"",
				     what, i, e->wd, e->mask,
				     e->len ? e->name : "", want[i].wd,
				     want[i].mask, want[i].name);
		}
	}
	if (got != n)
		fail("%s: %d events, want %d", what, got, n);
}

static void append(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		fail("append to %s: %s", path, strerror(errno));
	close(fd);
}

/* Is wd a watch of fd, as its fdinfo says? */
static bool has_wd(int fd, int wd)
{
	char want[32], lines[4096], all[4200];

	fdinfo_lines(fd, "inotify", 2, lines, sizeof(lines));
	snprintf(all, sizeof(all), "; %s;", lines);
	snprintf(want, sizeof(want), "; inotify wd:%x;", wd);
	return strstr(all, want);
}

int main(int argc, char **argv)
{
	static char before[2][8192], now[8192];
	int in, in2, wd1, wd2, wd3, wd4, wd5, x;

	test_init(argc, argv);
	if (mkdir("w", 0755))
		fail("mkdir: %s", strerror(errno));
	write_file("f", "f\n", 2);
	write_file("g", "g\n", 2);
	write_file("h", "h\n", 2);
	in = inotify_init1(IN_NONBLOCK);
	in2 = inotify_init1(IN_CLOEXEC);
	if (in < 0 || in2 < 0)
		fail("inotify_init1: %s", strerror(errno));
	wd1 = inotify_add_watch(in, "w", DIR_MASK);
	wd2 = inotify_add_watch(in, "g", IN_MODIFY);
	wd3 = inotify_add_watch(in, "f", FILE_MASK);
	wd4 = inotify_add_watch(in, "h", IN_MODIFY | IN_ATTRIB);
	x = inotify_add_watch(in2, "w", IN_CREATE);
	if (wd1 != 1 || wd2 != 2 || wd3 != 3 || wd4 != 4 || x != 1)
		fail("watch descriptors %d %d %d %d %d, want 1 2 3 4 1", wd1,
		     wd2, wd3, wd4, x);
	/* a gap at 2, and 4 taken and freed: the next one is 5 */
	if (inotify_rm_watch(in, wd2) || inotify_rm_watch(in, wd4))
		fail("inotify_rm_watch: %s", strerror(errno));
	/* the watch follows the file across a rename */
	if (rename("f", "f-renamed"))
		fail("rename: %s", strerror(errno));
	expect_events(in, (struct ev[]){ { wd2, IN_IGNORED, "" },
			{ wd4, IN_IGNORED, "" } }, 2, "before the dump");
	expect_events(in2, NULL, 0, "in2 before the dump");
	fdinfo_lines(in, "inotify", 5, before[0], sizeof(before[0]));
	fdinfo_lines(in2, "inotify", 5, before[1], sizeof(before[1]));
	test_ready();
	test_wait();

	/* the same watches (wd, inode, device, mask), nothing queued */
	fdinfo_lines(in, "inotify", 5, now, sizeof(now));
	if (strcmp(now, before[0]))
		fail("watches: %s; were: %s", now, before[0]);
	fdinfo_lines(in2, "inotify", 5, now, sizeof(now));
	if (strcmp(now, before[1]))
		fail("in2 watches: %s; were: %s", now, before[1]);
	expect_fl(in, O_NONBLOCK, O_NONBLOCK, "in");
	expect_fl(in2, O_NONBLOCK, 0, "in2");
	expect_cloexec(in2, 1, "in2");
	expect_events(in, NULL, 0, "in right after restore");
	expect_events(in2, NULL, 0, "in2 right after restore");

	/* the directory: create, modify, chmod (not watched), delete */
	write_file("w/new", "", 0);
	expect_events(in, (struct ev[]){ { wd1, IN_CREATE, "new" } }, 1,
		     "creating w/new");
	expect_events(in2, (struct ev[]){ { 1, IN_CREATE, "new" } }, 1,
		     "in2: creating w/new");
	append("w/new", "more");
	expect_events(in, (struct ev[]){ { wd1, IN_MODIFY, "new" } }, 1,
		     "appending to w/new");
	if (chmod("w/new", 0600))
		fail("chmod: %s", strerror(errno));
	expect_events(in, NULL, 0, "chmod w/new (IN_ATTRIB not watched)");
	if (rename("g", "w/moved"))
		fail("rename: %s", strerror(errno));
	expect_events(in, (struct ev[]){ { wd1, IN_MOVED_TO, "moved" } }, 1,
		     "moving g into w");
	if (unlink("w/new"))
		fail("unlink: %s", strerror(errno));
	expect_events(in, (struct ev[]){ { wd1, IN_DELETE, "new" } }, 1,
		     "deleting w/new");

	/* the renamed file, by its new name */
	append("f-renamed", "x");
	expect_events(in, (struct ev[]){ { wd3, IN_MODIFY, "" },
			{ wd3, IN_CLOSE_WRITE, "" } }, 2,
		     "appending to f-renamed");
	if (chmod("f-renamed", 0600))
		fail("chmod: %s", strerror(errno));
	expect_events(in, (struct ev[]){ { wd3, IN_ATTRIB, "" } }, 1,
		     "chmod f-renamed");
	/* removed watches stay removed */
	append("w/moved", "x");
	expect_events(in, (struct ev[]){ { wd1, IN_MODIFY, "moved" } }, 1,
		     "appending to w/moved (was g, its watch removed)");
	append("h", "x");
	expect_events(in, NULL, 0, "appending to h (its watch removed)");
	if (!inotify_rm_watch(in, wd2) || errno != EINVAL)
		fail("inotify_rm_watch of the removed wd %d did not say EINVAL",
		     wd2);

	/*
	 * New watches get new numbers (above the live ones: that wd 4 was
	 * handed out and removed before the dump is nowhere to be seen);
	 * old ones can be removed.
	 */
	wd5 = inotify_add_watch(in, "h", IN_MODIFY);
	if (wd5 <= wd3)
		fail("new watch got wd %d: numbers are reused (had up to %d)",
		     wd5, wd3);
	if (!has_wd(in, wd5) || !has_wd(in, wd3) || has_wd(in, wd2))
		fail("fdinfo lacks wd %d or %d, or has %d", wd5, wd3, wd2);
	if (inotify_rm_watch(in, wd3))
		fail("inotify_rm_watch(%d): %s", wd3, strerror(errno));
	expect_events(in, (struct ev[]){ { wd3, IN_IGNORED, "" } }, 1,
		     "removing the watch of f-renamed");
	append("h", "y");
	expect_events(in, (struct ev[]){ { wd5, IN_MODIFY, "" } }, 1,
		     "appending to h (new watch)");
	pass();
}
