// Internal to io/: what a source knows of the files it reads (their state
// when opened, what changed since) and the errors about descriptors. Not
// installed.
#ifndef EOSCALE_IO_FILE_STATE_H_
#define EOSCALE_IO_FILE_STATE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace eoscale::io::internal {

bool IsVsiPath(const std::string& path);

// What a file was when the source saw it. For GDAL virtual paths (/vsimem/,
// /vsizip/...) only the size and modification time are known.
struct FileState {
  bool exists = false;
  int error = 0;  // errno of a failed stat
  bool vsi = false;
  mode_t mode = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t mtime_ns = 0;
  int64_t size = 0;
};

FileState StatFile(const std::string& path);

// What differs between two states of one file ("" when nothing does).
std::string DescribeChange(const FileState& before, const FileState& now);

// A FIFO, a device or a socket: opening one can block for ever (a FIFO
// without a writer) or read something that is not a file. nullptr for a
// regular file or a folder.
const char* SpecialFileKind(mode_t mode);

// True when the process has no descriptor left (or the system none):
// `saved_errno` is errno right after the failed call; a probe settles it.
bool OutOfDescriptors(int saved_errno);

// The message for a run out of descriptors (the limit, the pool's cap).
std::string TooManyOpenFiles();

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_FILE_STATE_H_
