/* SPDX-License-Identifier: BSD-2-Clause */
/* Lock files that name their holder (xu_lock.h). */

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "xu_lock.h"

/* Races with releases to give up after: each needs a release between. */
#define XU_LOCK_TRIES 16

/* The holder's line, for a refusal. */
static void
xu_lock_holder(int fd, char *holder, size_t len)
{
	ssize_t n;

	if (holder == NULL || len == 0)
		return;
	n = pread(fd, holder, len - 1, 0);
	holder[n > 0 ? n : 0] = '\0';
	holder[strcspn(holder, "\n")] = '\0';
}

/* Is fd still the file at path (not unlinked by a release meanwhile)? */
static bool
xu_lock_current(int fd, const char *path)
{
	struct stat a, b;

	return (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

int
xu_lock_take(const char *path, const char *text, char *holder, size_t holderlen)
{
	size_t len = strlen(text);
	int fd, rc, i;

	for (i = 0; i < XU_LOCK_TRIES; i++) {
		if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
			return (-errno);
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
			if (rc == -EBUSY)
				xu_lock_holder(fd, holder, holderlen);
			close(fd);
			return (rc);
		}
		if (!xu_lock_current(fd, path)) {
			close(fd);
			continue;
		}
		if (ftruncate(fd, 0) != 0 ||
		    pwrite(fd, text, len, 0) != (ssize_t)len) {
			rc = -errno;
			xu_lock_release(fd, path);
			return (rc);
		}
		return (fd);
	}
	return (-EAGAIN);
}

int
xu_lock_holder_of(const char *path, char *holder, size_t holderlen)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (-errno);
	xu_lock_holder(fd, holder, holderlen);
	close(fd);
	return (0);
}

void
xu_lock_release(int fd, const char *path)
{
	if (fd < 0)
		return;
	/* Unlinked while still held: nobody can lock the old file then. */
	(void)unlink(path);
	close(fd);
}
