# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the backend component (included from fuzz/CMakeLists.txt).

xbd_fuzz(NAME fuzz_xbb_req SOURCES fuzz_xbb_req.c LIBS xbd_back
    LABELS backend)
