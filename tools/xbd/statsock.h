/* SPDX-License-Identifier: BSD-2-Clause */
/* The statistics socket of an attached device; see statsock.c. */

#ifndef XBD_TOOLS_STATSOCK_H
#define XBD_TOOLS_STATSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "xbd/xbd.h"

struct statsock;

/* DIR/stat/<domid>.<vdev>. */
int statsock_path(const char *dir, uint32_t domid, uint32_t vdev, char *buf,
    size_t len);
/* Describe dev to whoever connects, on a thread, until statsock_stop. */
int statsock_start(const char *dir, uint32_t domid, uint32_t vdev,
    struct xbd_dev *dev, struct statsock **out);
void statsock_stop(struct statsock *ss);
/* Ask the socket at path for text or JSON and copy the answer to out. */
int statsock_query(const char *path, bool json, FILE *out);

#endif /* XBD_TOOLS_STATSOCK_H */
