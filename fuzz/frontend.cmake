# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the frontend component (included from fuzz/CMakeLists.txt).
