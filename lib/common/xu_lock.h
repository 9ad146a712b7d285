/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Lock files that name their holder and cannot go stale, for "one
 * backend per domain" and "one frontend per vbd": an flock, which the
 * kernel drops when its process dies however it dies, on a file holding
 * a line about the holder for the next one's message.  A release unlinks
 * the file before closing it, so nothing is left behind; a taker checks
 * that the file it locked is still the one at the path, so that it never
 * holds a lock on a file its predecessor had just unlinked.
 */

#ifndef XBD_XU_LOCK_H
#define XBD_XU_LOCK_H

#include <stddef.h>

/*
 * Take the lock at path (creating the file) and write text into it.
 * \return the descriptor to keep, -EBUSY when another process holds it
 *         (its text, one line, in holder when holder is not NULL), or
 *         another negative errno.
 */
int xu_lock_take(const char *path, const char *text, char *holder,
    size_t holderlen);

/*
 * The holder's line of the lock at path, without taking it.
 * \return 0, or a negative errno (-ENOENT: no lock there).
 */
int xu_lock_holder_of(const char *path, char *holder, size_t holderlen);

/* Release a lock xu_lock_take gave: unlink path, then close fd. */
void xu_lock_release(int fd, const char *path);

#endif /* XBD_XU_LOCK_H */
