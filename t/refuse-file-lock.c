/* Holds a flock lock: without --file-locks cr dump must refuse it (as CRIU does) and leave the process and its lock as they were. */
#include "lib.h"
#include <sys/file.h>

int main(int argc, char **argv)
{
	int fd, other;

	test_init(argc, argv);
	fd = open("locked", O_RDWR | O_CREAT, 0600);
	if (fd < 0 || flock(fd, LOCK_EX))
		fail("flock: %s", strerror(errno));
	test_ready();
	if (spin_counters(10000000) < 1000)
		fail("counter barely moved");
	other = open("locked", O_RDWR);
	if (other < 0)
		fail("open: %s", strerror(errno));
	if (!flock(other, LOCK_EX | LOCK_NB) || errno != EWOULDBLOCK)
		fail("the lock is gone after the refused dump");
	pass();
}
