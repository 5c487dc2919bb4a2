# FindxxHash: xxHash (xxhash.h and libxxhash) as the imported target xxHash::xxhash, the name
# xxHash's own CMake package gives it. Used by imgpack's build and installed beside
# imgpackConfig.cmake, so that a project's find_package(imgpack) finds what imgpack::reader needs.
# Looks for, in turn: xxHash's CMake package (an upstream install), pkg-config's libxxhash
# (Debian, Fedora, Homebrew), then xxhash.h and the library on the usual paths.
include(FindPackageHandleStandardArgs)

if(NOT TARGET xxHash::xxhash)
  find_package(xxHash CONFIG QUIET)
endif()
if(TARGET xxHash::xxhash)
  set(xxHash_FOUND TRUE)
  return()
endif()

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_XXHASH QUIET libxxhash)
endif()
find_path(xxHash_INCLUDE_DIR xxhash.h HINTS ${PC_XXHASH_INCLUDE_DIRS})
find_library(xxHash_LIBRARY NAMES xxhash HINTS ${PC_XXHASH_LIBRARY_DIRS})
mark_as_advanced(xxHash_INCLUDE_DIR xxHash_LIBRARY)
find_package_handle_standard_args(xxHash REQUIRED_VARS xxHash_LIBRARY xxHash_INCLUDE_DIR
                                  VERSION_VAR PC_XXHASH_VERSION)

if(xxHash_FOUND)
  add_library(xxHash::xxhash UNKNOWN IMPORTED)
  set_target_properties(xxHash::xxhash PROPERTIES
    IMPORTED_LOCATION "${xxHash_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${xxHash_INCLUDE_DIR}")
endif()
