/* A fanotify group with an event nobody has read yet: cr cannot queue it again, so dump must refuse, and the event must still be there after. */
#include "fdlib.h"
#include <sys/fanotify.h>

int main(int argc, char **argv)
{
	struct fanotify_event_metadata m;
	int fan, w;

	test_init(argc, argv);
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	if (fan < 0 && errno == EPERM)
		skip("fanotify needs CAP_SYS_ADMIN");
	w = open("watched", O_RDWR | O_CREAT, 0600);
	if (fan < 0 || w < 0 ||
	    fanotify_mark(fan, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, "watched") ||
	    write(w, "x", 1) != 1)
		fail("fanotify: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	if (read(fan, &m, sizeof(m)) != sizeof(m) || !(m.mask & FAN_MODIFY))
		fail("the queued event is gone");
	pass();
}
