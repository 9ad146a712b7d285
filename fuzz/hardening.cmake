# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the hardening component (included from fuzz/CMakeLists.txt).
