// The output files of sinks: temporary names beside the file a sink
// replaces, the checks and moves that put a finished file in place
// atomically (gdal_sink.h tells the life of those files), and the error
// codes of the system calls on them. Internal to io/.
#ifndef EOSCALE_IO_OUTPUT_FILE_H_
#define EOSCALE_IO_OUTPUT_FILE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eoscale/core/file_identity.h"

namespace eoscale::io::internal {

// ENOSPC, EDQUOT, EFBIG; and GDAL's messages that say so in words.
bool IsNoSpace(int e);
bool SaysNoSpace(const std::string& message);
// The code of a failed write, flush or close (ResourceExhausted or DataLoss).
absl::StatusCode WriteErrorCode(int e, const std::string& message);
// A failed system call on the output's folder or files: "<what>: strerror".
absl::Status ErrnoStatus(int e, const std::string& what);
// `message` with the temporary's path taken out (the user knows the output's).
std::string WithoutTemporary(std::string message, const std::string& tmp_path);
// "a folder", "a FIFO (named pipe)", ...: what a non-regular file is.
const char* KindOf(mode_t mode);

// The prefix of every temporary of the output `name`, and one temporary
// name "<stem><pid>-<n>.tmp" (at most 126 bytes whatever the name).
std::string TempStem(const std::string& name);
std::string TempName(const std::string& stem, uint64_t n);
uint64_t NextTempNumber();

// Opens `name` in `dirfd` without following a symlink, for an flock() only.
// -1 when it cannot be opened.
int OpenForLock(int dirfd, const char* name);
// True when `name` in `dirfd` is still the file open as `fd`.
bool StillNamed(int dirfd, const std::string& name, int fd);
// Removes the temporaries of the output `name` left by processes that are
// gone (best effort).
void RemoveStaleTemporaries(int dirfd, const std::string& name);
// Gives the file open as `fd` the owner and mode of the file it replaces.
absl::Status CopyOwnerAndMode(int fd, const struct stat& old, const std::string& path);

// renameat2's flags and hard links refused by the file system (errno).
bool Renameat2Refused(int e);
bool HardLinksRefused(int e);
// renameat2 and linkat within `dirfd`, refused as a file system would when
// a test says so (SetCommitMovesForTesting).
int Renameat2(int dirfd, const std::string& from, const std::string& to, unsigned flags);
int Linkat(int dirfd, const std::string& from, const std::string& to);

// Creates the temporary file for the output `loc.name` in `dirfd`, holding 8
// placeholder bytes, flock()ed. Returns its name and descriptor.
absl::StatusOr<std::pair<std::string, int>> CreateTemporary(int dirfd, const OutputLocation& loc,
                                                            const std::string& path);

}  // namespace eoscale::io::internal

#endif  // EOSCALE_IO_OUTPUT_FILE_H_
