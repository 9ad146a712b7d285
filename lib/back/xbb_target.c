/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What a vbd's `params` names.  A toolstack writes a path for a file or
 * block device; for remote storage it writes the string QEMU's block
 * layer takes, so that configurations carry over:
 *
 *   rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER]
 *   nbd://HOST[:PORT]/[EXPORT]
 *   nbd+unix URIs: an empty host, the export, then ?socket=PATH
 *
 * Only the syntax is checked here; whether the pool, image or server
 * exist is for the kind's open.  A refusal says what is wrong and names
 * the string, because it ends up in the log and the vbd's `error` node
 * where an operator reads it.  QEMU's backslash escapes and RBD
 * namespaces are not taken: a string using them is refused, not
 * misread.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/xu_parse.h"
#include "xbb_internal.h"

/* Highest TCP port. */
#define XBB_PORT_MAX 65535

static int xbb_target_err(char *msg, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
xbb_target_err(char *msg, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return (rc);
}

static bool
xbb_has_prefix(const char *s, const char *p)
{
	return (strncmp(s, p, strlen(p)) == 0);
}

/* One `:key=value` of an rbd string. */
static int
xbb_rbd_opt(struct xbb_target *t, char *opt, char *msg, size_t len)
{
	char *eq = strchr(opt, '=');

	if (eq == NULL || eq == opt || eq[1] == '\0')
		return (xbb_target_err(msg, len, -EINVAL,
		    "%s: option '%s' is not key=value", t->tg_params, opt));
	*eq = '\0';
	if (strcmp(opt, "conf") == 0)
		t->tg_conf = eq + 1;
	else if (strcmp(opt, "id") == 0)
		t->tg_id = eq + 1;
	else
		return (xbb_target_err(msg, len, -EINVAL,
		    "%s: unknown option '%s' (known: conf, id)", t->tg_params,
		    opt));
	return (0);
}

static int
xbb_parse_rbd(struct xbb_target *t, char *msg, size_t len)
{
	char *s = t->tg_buf + strlen("rbd:"), *opts, *slash, *at;
	int rc;

	if (strchr(s, '\\') != NULL)
		return (xbb_target_err(msg, len, -EINVAL,
		    "%s: escaped characters are not supported", t->tg_params));
	if ((opts = strchr(s, ':')) != NULL)
		*opts++ = '\0';
	if ((slash = strchr(s, '/')) == NULL || slash == s ||
	    slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
		return (xbb_target_err(msg, len, -EINVAL,
		    "%s: expected rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=USER]",
		    t->tg_params));
	*slash = '\0';
	t->tg_pool = s;
	t->tg_image = slash + 1;
	if ((at = strchr(t->tg_image, '@')) != NULL) {
		*at = '\0';
		t->tg_snap = at + 1;
		if (*t->tg_snap == '\0' || at == t->tg_image)
			return (xbb_target_err(msg, len, -EINVAL,
			    "%s: empty image or snapshot name", t->tg_params));
	}
	while (opts != NULL) {
		s = opts;
		if ((opts = strchr(s, ':')) != NULL)
			*opts++ = '\0';
		if ((rc = xbb_rbd_opt(t, s, msg, len)) != 0)
			return (rc);
	}
	return (0);
}

/* The port of nbd://HOST:PORT/, if any, between colon and slash. */
static int
xbb_nbd_port(const struct xbb_target *t, const char *p, const char *end,
    char *msg, size_t len)
{
	char num[8];
	uint64_t v;

	if ((size_t)(end - p) >= sizeof(num))
		return (xbb_target_err(msg, len, -EINVAL, "%s: bad port",
		    t->tg_params));
	memcpy(num, p, (size_t)(end - p));
	num[end - p] = '\0';
	if (xu_parse_u64(num, XBB_PORT_MAX, &v) != 0 || v == 0)
		return (xbb_target_err(msg, len, -EINVAL,
		    "%s: port '%s' is not in 1..%d", t->tg_params, num,
		    XBB_PORT_MAX));
	return (0);
}

static int
xbb_parse_nbd(struct xbb_target *t, char *msg, size_t len)
{
	const char *s = t->tg_params, *host, *slash, *colon;

	if (xbb_has_prefix(s, "nbd+unix://")) {
		if (!xbb_has_prefix(s, "nbd+unix:///"))
			return (xbb_target_err(msg, len, -EINVAL,
			    "%s: expected nbd+unix:///[EXPORT]?socket=PATH",
			    s));
		if (strstr(s, "?socket=") == NULL &&
		    strstr(s, "&socket=") == NULL)
			return (xbb_target_err(msg, len, -EINVAL,
			    "%s: no ?socket=PATH", s));
		return (0);
	}
	host = s + strlen("nbd://");
	if ((slash = strchr(host, '/')) == NULL)
		slash = host + strlen(host);
	/* [v6]:port or host:port */
	colon = memchr(host, ']', (size_t)(slash - host));
	colon = memchr(colon != NULL ? colon : host, ':',
	    (size_t)(slash - (colon != NULL ? colon : host)));
	if (slash == host || colon == host)
		return (xbb_target_err(msg, len, -EINVAL,
		    "%s: expected nbd://HOST[:PORT]/[EXPORT]", s));
	if (strchr(slash, '?') != NULL)
		return (xbb_target_err(msg, len, -EINVAL,
		    "%s: query parameters are only for nbd+unix", s));
	return (
	    colon != NULL ? xbb_nbd_port(t, colon + 1, slash, msg, len) : 0);
}

int
xbb_target_parse(const char *params, struct xbb_target *t, char *msg,
    size_t len)
{
	size_t n = strlen(params);

	memset(t, 0, sizeof(*t));
	msg[0] = '\0';
	t->tg_params = params;
	if (n == 0)
		return (xbb_target_err(msg, len, -EINVAL, "empty params"));
	if (n >= sizeof(t->tg_buf))
		return (xbb_target_err(msg, len, -ENAMETOOLONG,
		    "params of %zu bytes (at most %zu)", n,
		    sizeof(t->tg_buf) - 1));
	memcpy(t->tg_buf, params, n + 1);
	if (xbb_has_prefix(params, "rbd:")) {
		t->tg_kind = XBB_KIND_RBD;
		if (xbb_store_rbd == NULL)
			return (xbb_target_err(msg, len, -ENOTSUP,
			    "%s: xbd was built without RBD support", params));
		return (xbb_parse_rbd(t, msg, len));
	}
	if (xbb_has_prefix(params, "nbd://") ||
	    xbb_has_prefix(params, "nbd+unix://")) {
		t->tg_kind = XBB_KIND_NBD;
		if (xbb_store_nbd == NULL)
			return (xbb_target_err(msg, len, -ENOTSUP,
			    "%s: xbd was built without NBD support", params));
		return (xbb_parse_nbd(t, msg, len));
	}
	if (xbb_has_prefix(params, "nbd") && strstr(params, "://") != NULL)
		return (xbb_target_err(msg, len, -EINVAL,
		    "%s: only nbd:// and nbd+unix:// are supported", params));
	t->tg_kind = XBB_KIND_PATH;
	return (0);
}

/* A build without a kind's library: the parser says so. */
#ifndef XBB_HAVE_RBD
const struct xbb_store_ops *const xbb_store_rbd = NULL;
#endif
#ifndef XBB_HAVE_NBD
const struct xbb_store_ops *const xbb_store_nbd = NULL;
#endif

bool
xbb_storage_built(const char *kind)
{
	if (strcmp(kind, "rbd") == 0)
		return (xbb_store_rbd != NULL);
	if (strcmp(kind, "nbd") == 0)
		return (xbb_store_nbd != NULL);
	return (false);
}
