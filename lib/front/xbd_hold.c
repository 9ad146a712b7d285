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

#include "common/xu_lock.h"
#include "xbd_internal.h"
#include "xenbus/xbus.h"

/* Room for "pid <n> (<holder>)". */
#define XBD_HOLD_TEXT 96
#define XBD_HOLD_PATH 320

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

/* DIR/hold/<domid>.<vdev>. */
static int
xbd_hold_path(const char *holddir, uint32_t domid, uint32_t vdev, char *buf,
    size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/%u.%u", holddir, domid, vdev);
	return (n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0);
}

/*
 * Lock the hold file of vbd vdev of domain domid under holddir, with
 * text as its holder's line.
 * \return the descriptor, -EBUSY (the holder's line in why), or an
 *         error.
 */
static int
xbd_hold_lock(const char *holddir, uint32_t domid, uint32_t vdev,
    const char *text, char *why, size_t whylen)
{
	char path[XBD_HOLD_PATH], holder[XBD_HOLD_TEXT], name[16];
	int rc;

	if ((rc = xbd_hold_path(holddir, domid, vdev, path, sizeof(path))) != 0)
		return (rc);
	if (mkdir(holddir, 0755) != 0 && errno != EEXIST)
		rc = -errno;
	else
		rc = xu_lock_take(path, text, holder, sizeof(holder));
	if (xbus_vdev_name(vdev, name, sizeof(name)) != 0)
		snprintf(name, sizeof(name), "%u", vdev);
	/* Said, so that -ENOENT here is not taken for a vbd not there. */
	if (rc == -EBUSY)
		snprintf(why, whylen, "%s of domain %u is held by %s", name,
		    domid, holder[0] != '\0' ? holder : "another frontend");
	else if (rc < 0)
		snprintf(why, whylen,
		    "%s of domain %u: cannot take its hold file %s: %s", name,
		    domid, path, strerror(-rc));
	return (rc);
}

int
xbd_hold(struct xbd_plat *xp, struct xbd_softc *sc)
{
	char text[XBD_HOLD_TEXT];
	const char *who = sc->xbd_opts.o_holder;
	int fd, rc;

	if (xp->xp_holddir[0] == '\0')
		return (0); /* a private machine: nobody else can attach */
	if ((rc = xbd_hold_path(xp->xp_holddir, plat_domid(sc->xbd_plat),
		 sc->xbd_vdevice, sc->xbd_hold_path,
		 sizeof(sc->xbd_hold_path))) != 0)
		return (rc);
	snprintf(text, sizeof(text), "pid %ld (%s)\n", (long)getpid(),
	    who != NULL ? who : program_invocation_short_name);
	if ((fd = xbd_hold_lock(xp->xp_holddir, plat_domid(sc->xbd_plat),
		 sc->xbd_vdevice, text, xp->xp_why, sizeof(xp->xp_why))) < 0)
		return (fd);
	sc->xbd_hold_fd = fd;
	return (0);
}

void
xbd_unhold(struct xbd_softc *sc)
{
	char *slash;

	if (sc->xbd_hold_fd < 0)
		return;
	xu_lock_release(sc->xbd_hold_fd, sc->xbd_hold_path);
	sc->xbd_hold_fd = -1;
	/* The hold directory goes with its last file. */
	if ((slash = strrchr(sc->xbd_hold_path, '/')) != NULL) {
		*slash = '\0';
		(void)rmdir(sc->xbd_hold_path);
	}
}

int
xbd_sim_held(const char *dir, uint32_t domid, const char *vbd, char *why,
    size_t len)
{
	char holddir[256], path[XBD_HOLD_PATH], holder[XBD_HOLD_TEXT];
	uint32_t vdev;
	int n;

	/* A device directory is resolved by attach only; it checks then. */
	if (xbus_vdev_parse(vbd, &vdev) != 0)
		return (0);
	n = snprintf(holddir, sizeof(holddir), "%s/hold", dir);
	if (n < 0 || (size_t)n >= sizeof(holddir) ||
	    xbd_hold_path(holddir, domid, vdev, path, sizeof(path)) != 0)
		return (-ENAMETOOLONG);
	/* No file, no holder; a file nobody holds is a dead holder's. */
	if (xu_lock_holder_of(path, holder, sizeof(holder)) == -ENOENT)
		return (0);
	if ((n = xbd_hold_lock(holddir, domid, vdev, "", why, len)) >= 0) {
		xu_lock_release(n, path);
		return (0);
	}
	/* Any other failure is attach's to report, with its context. */
	return (n == -EBUSY ? n : 0);
}

const char *
xbd_plat_why(const struct xbd_plat *xp)
{
	return (xp->xp_why);
}
