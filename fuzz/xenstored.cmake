# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the xenstored component (included from fuzz/CMakeLists.txt).

# The daemon's core fed by four in-memory connections (privileged, two
# domains); seeds cover every message type.
xbd_fuzz(NAME fuzz_xsd SOURCES fuzz_xsd.c LIBS xsd LABELS xenstored)
