/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One frontend per vbd.  Two frontends writing the same device directory
 * fight over its state and ring references: the loser's requests are
 * never answered.  So attach takes an exclusive flock on a file named
 * after the domain and the vbd, under the machine's directory
 * (DIR/hold/) on the simulator and /run/xbd/ on real Xen, and keeps it
 * until detach.  The kernel drops the lock with the last descriptor, so
 * a holder killed outright leaves nothing stale behind; the file's text
 * (pid and program) only names the holder to the one refused.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xbd_internal.h"
#include "xenbus/xbus.h"

/* Room for "pid <n> (<holder>)". */
#define XBD_HOLD_TEXT 96

int
xbd_plat_set_holddir(struct xbd_plat *xp, const char *base, const char *sub)
{
	int n;

	n = snprintf(xp->xp_holddir, sizeof(xp->xp_holddir), "%s%s%s", base,
	    sub[0] != '\0' ? "/" : "", sub);
	if (n < 0 || (size_t)n >= sizeof(xp->xp_holddir)) {
		xp->xp_holddir[0] = '\0';
		return (-ENAMETOOLONG);
	}
	return (0);
}

/*
 * Open and lock the hold file of vbd vdev of domain domid under holddir.
 * \return the descriptor, -EBUSY (the holder's text in why), or an
 *         error.
 */
static int
xbd_hold_lock(const char *holddir, uint32_t domid, uint32_t vdev, char *why,
    size_t whylen)
{
	char path[320], text[XBD_HOLD_TEXT], name[16];
	ssize_t n;
	int fd, rc;

	if (mkdir(holddir, 0755) != 0 && errno != EEXIST)
		return (-errno);
	snprintf(path, sizeof(path), "%s/%u.%u", holddir, domid, vdev);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return (-errno);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return (fd);
	rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
	if (rc == -EBUSY) {
		n = pread(fd, text, sizeof(text) - 1, 0);
		text[n > 0 ? n : 0] = '\0';
		text[strcspn(text, "\n")] = '\0';
		if (xbus_vdev_name(vdev, name, sizeof(name)) != 0)
			snprintf(name, sizeof(name), "%u", vdev);
		snprintf(why, whylen, "%s of domain %u is held by %s", name,
		    domid, text[0] != '\0' ? text : "another frontend");
	}
	close(fd);
	return (rc);
}

int
xbd_hold(struct xbd_plat *xp, struct xbd_softc *sc)
{
	char text[XBD_HOLD_TEXT];
	const char *who = sc->xbd_opts.o_holder;
	int fd, n, rc;

	if (xp->xp_holddir[0] == '\0')
		return (0); /* a private machine: nobody else can attach */
	if ((fd = xbd_hold_lock(xp->xp_holddir, plat_domid(sc->xbd_plat),
		 sc->xbd_vdevice, xp->xp_why, sizeof(xp->xp_why))) < 0)
		return (fd);
	n = snprintf(text, sizeof(text), "pid %ld (%s)\n", (long)getpid(),
	    who != NULL ? who : program_invocation_short_name);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)strlen(text);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
		rc = -errno;
		close(fd);
		return (rc);
	}
	sc->xbd_hold_fd = fd;
	return (0);
}

int
xbd_sim_held(const char *dir, uint32_t domid, const char *vbd, char *why,
    size_t len)
{
	char holddir[256];
	uint32_t vdev;
	int fd, n;

	/* A device directory is resolved by attach only; it checks then. */
	if (xbus_vdev_parse(vbd, &vdev) != 0)
		return (0);
	n = snprintf(holddir, sizeof(holddir), "%s/hold", dir);
	if (n < 0 || (size_t)n >= sizeof(holddir))
		return (-ENAMETOOLONG);
	/* Any other failure is attach's to report, with its context. */
	if ((fd = xbd_hold_lock(holddir, domid, vdev, why, len)) < 0)
		return (fd == -EBUSY ? fd : 0);
	close(fd);
	return (0);
}

const char *
xbd_plat_why(const struct xbd_plat *xp)
{
	return (xp->xp_why);
}
