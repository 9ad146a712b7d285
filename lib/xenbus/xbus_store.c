/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Device-directory nodes, states and errors on libxenstore.  libxenstore
 * reports failure as NULL/false plus errno; everything here turns that
 * into the project's negative errno.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xu_parse.h"
#include "common/xu_time.h"
#include "xbus.h"

int
xbus_path(char *buf, size_t len, const char *dir, const char *node)
{
	int n;

	if (node == NULL || *node == '\0')
		n = snprintf(buf, len, "%s", dir);
	else
		n = snprintf(buf, len, "%s/%s", dir, node);
	if (n < 0 || (size_t)n >= len)
		return (-ENAMETOOLONG);
	return (0);
}

/* libxenstore's errno, never 0 on a failure path. */
static int
xbus_errno(void)
{
	return (errno != 0 ? -errno : -EIO);
}

int
xbus_txn(struct xs_handle *xs, xbus_txn_fn *fn, void *arg)
{
	xs_transaction_t t;
	int rc, i;

	for (i = 0; i < XBUS_TXN_RETRIES; i++) {
		/* A failure that sets no errno still reads as one. */
		errno = 0;
		if ((t = xs_transaction_start(xs)) == XBT_NULL)
			return (xbus_errno());
		errno = 0;
		if ((rc = fn(xs, t, arg)) != 0) {
			(void)xs_transaction_end(xs, t, true);
			return (rc);
		}
		errno = 0;
		if (xs_transaction_end(xs, t, false))
			return (0);
		if (errno != EAGAIN)
			return (xbus_errno());
	}
	return (-EAGAIN);
}

int
xbus_read(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, char **out)
{
	char path[XBUS_PATH_MAX];
	unsigned int len;
	char *v;
	int rc;

	if ((rc = xbus_path(path, sizeof(path), dir, node)) != 0)
		return (rc);
	errno = 0;
	if ((v = xs_read(xs, t, path, &len)) == NULL)
		return (xbus_errno());
	/* A value with an embedded NUL is not a string we accept. */
	if (strlen(v) != len) {
		free(v);
		return (-EINVAL);
	}
	*out = v;
	return (0);
}

int
xbus_read_u64(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, uint64_t max, uint64_t *out)
{
	char *v;
	int rc;

	if ((rc = xbus_read(xs, t, dir, node, &v)) != 0)
		return (rc);
	rc = xu_parse_u64(v, max, out);
	free(v);
	return (rc);
}

int
xbus_read_u64_def(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, uint64_t max, uint64_t def, uint64_t *out)
{
	int rc;

	rc = xbus_read_u64(xs, t, dir, node, max, out);
	if (rc == -ENOENT) {
		*out = def;
		rc = 0;
	}
	return (rc);
}

int
xbus_read_bool_def(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, bool def, bool *out)
{
	uint64_t v;
	int rc;

	if ((rc = xbus_read_u64_def(xs, t, dir, node, 1, def, &v)) != 0)
		return (rc == -ERANGE ? -EINVAL : rc);
	*out = v != 0;
	return (0);
}

int
xbus_write(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, const char *val)
{
	char path[XBUS_PATH_MAX];
	int rc;

	if ((rc = xbus_path(path, sizeof(path), dir, node)) != 0)
		return (rc);
	errno = 0;
	if (!xs_write(xs, t, path, val, (unsigned int)strlen(val)))
		return (xbus_errno());
	return (0);
}

int
xbus_printf(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node, const char *fmt, ...)
{
	char val[XENSTORE_PAYLOAD_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		return (-E2BIG);
	return (xbus_write(xs, t, dir, node, val));
}

int
xbus_rm(struct xs_handle *xs, xs_transaction_t t, const char *dir,
    const char *node)
{
	char path[XBUS_PATH_MAX];
	int rc;

	if ((rc = xbus_path(path, sizeof(path), dir, node)) != 0)
		return (rc);
	errno = 0;
	if (!xs_rm(xs, t, path) && errno != ENOENT)
		return (xbus_errno());
	return (0);
}

int
xbus_read_state_rc(struct xs_handle *xs, const char *dir,
    enum xenbus_state *state)
{
	uint64_t v;
	int rc;

	*state = XenbusStateUnknown;
	if ((rc = xbus_read_u64(xs, XBT_NULL, dir, "state",
		 XenbusStateReconfigured, &v)) != 0)
		return (rc);
	*state = (enum xenbus_state)v;
	return (0);
}

enum xenbus_state
xbus_read_state(struct xs_handle *xs, const char *dir)
{
	enum xenbus_state state;

	(void)xbus_read_state_rc(xs, dir, &state);
	return (state);
}

int
xbus_write_state(struct xs_handle *xs, const char *dir, enum xenbus_state state)
{
	return (xbus_printf(xs, XBT_NULL, dir, "state", "%d", (int)state));
}

const char *
xbus_state_name(enum xenbus_state state)
{
	static const char *const names[] = {
		[XenbusStateUnknown] = "Unknown",
		[XenbusStateInitialising] = "Initialising",
		[XenbusStateInitWait] = "InitWait",
		[XenbusStateInitialised] = "Initialised",
		[XenbusStateConnected] = "Connected",
		[XenbusStateClosing] = "Closing",
		[XenbusStateClosed] = "Closed",
		[XenbusStateReconfiguring] = "Reconfiguring",
		[XenbusStateReconfigured] = "Reconfigured",
	};

	if ((unsigned int)state >= sizeof(names) / sizeof(names[0]))
		return ("Invalid");
	return (names[state]);
}

static int xbus_dev_verror(struct xs_handle *xs, const char *dir, int err,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static int
xbus_dev_verror(struct xs_handle *xs, const char *dir, int err, const char *fmt,
    va_list ap)
{
	char msg[1024];
	int n;

	n = snprintf(msg, sizeof(msg), "%d ", err < 0 ? -err : err);
	if (n > 0 && (size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	return (xbus_write(xs, XBT_NULL, dir, "error", msg));
}

int
xbus_dev_error(struct xs_handle *xs, const char *dir, int err, const char *fmt,
    ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = xbus_dev_verror(xs, dir, err, fmt, ap);
	va_end(ap);
	return (rc);
}

int
xbus_dev_fatal(struct xs_handle *xs, const char *dir, int err, const char *fmt,
    ...)
{
	va_list ap;
	int rc, rc2;

	va_start(ap, fmt);
	rc = xbus_dev_verror(xs, dir, err, fmt, ap);
	va_end(ap);
	rc2 = xbus_write_state(xs, dir, XenbusStateClosing);
	return (rc != 0 ? rc : rc2);
}

int
xbus_wait_state(struct xs_handle *xs, const char *dir,
    bool (*pred)(enum xenbus_state, void *), void *arg, unsigned int timeout_ms)
{
	const struct timespec tick = { 0, 5 * 1000 * 1000 };
	struct timespec now, end;

	end = xu_deadline(CLOCK_MONOTONIC, timeout_ms);
	for (;;) {
		if (pred(xbus_read_state(xs, dir), arg))
			return (0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return (-ETIMEDOUT);
		nanosleep(&tick, NULL);
	}
}
