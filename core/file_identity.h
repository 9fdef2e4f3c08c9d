// Which file a path names, whatever its spelling: what lets a run refuse to
// write one of its inputs, or to write one file twice, before anything runs.
// Plain POSIX (stat, realpath, readlink): core does not link GDAL.
//
// All functions are thread-safe (they only read the file system).
#ifndef EOSCALE_CORE_FILE_IDENTITY_H_
#define EOSCALE_CORE_FILE_IDENTITY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace eoscale {

// A path and what it is to the run, for messages: e.g. {"input 2 of 'ndwi'",
// "d/s2.tif"} or {"output", "out.tif"}.
struct NamedPath {
  std::string what;
  std::string path;
};

// True for GDAL's virtual file systems ("/vsimem/...", "/vsizip/...", ...):
// they are not POSIX paths, and are compared as strings.
bool IsVirtualPath(const std::string& path);

// Where a write to a path lands: the symlinks of its last component are
// followed (a symlinked output is written through to its target, and the
// link stays a link) and its folder is resolved (no symlink, `.` or `..`).
struct OutputLocation {
  std::string folder;  // absolute, canonical
  std::string name;    // one path component, never empty, "." or ".."
  std::string path() const { return folder == "/" ? "/" + name : folder + "/" + name; }
};

// Errors: InvalidArgument (the path is empty, names a folder by its
// spelling ("out/", "a/.."), is longer than PATH_MAX, or its symlinks loop
// or nest deeper than 40), NotFound (its folder does not exist),
// PermissionDenied (its folder cannot be searched). Does not check that the
// output may be written (see io::CheckWritable), nor what it is if it exists.
// REQUIRES: !IsVirtualPath(path).
absl::StatusOr<OutputLocation> ResolveOutputPath(const std::string& path);

// Refuses an output that is the same file as an input or as another output:
// paths are compared by device and inode after resolving them (relative
// paths, `..`, symlinks, hard links, bind mounts all count). An output that
// does not exist yet is identified by its resolved folder's device and inode
// plus its name (after following a dangling symlink), so two writes to one
// new file, spelled differently, are refused too. GDAL virtual paths are
// compared as strings. A path that cannot be resolved (a missing folder) is
// compared as a string: writing it fails later, with its own error.
// Errors: InvalidArgument naming both paths and what they are, e.g.
//   output 'd/./s2_date0.tif' is the same file as input 1 of 'ndwi'
//   ('d/s2_date0.tif'): a run never writes one of its inputs
absl::Status CheckDistinctFiles(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs);

}  // namespace eoscale

#endif  // EOSCALE_CORE_FILE_IDENTITY_H_
