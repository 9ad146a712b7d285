# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the platform component (included from fuzz/CMakeLists.txt).
