// The interfaces through which the graph reads and writes rasters. The graph
// knows files only through these: io/ implements them with GDAL, and a user
// may implement them too (an in-memory tile generator, a sink that sends
// tiles elsewhere) and hand them to Context::Open / Context::Write.
#ifndef EOSCALE_CORE_RASTER_IO_H_
#define EOSCALE_CORE_RASTER_IO_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eoscale/core/profile.h"
#include "eoscale/core/view.h"

namespace eoscale {

// A raster that can be read by windows. Read is thread-safe: it may be
// called concurrently from several threads.
class RasterSource {
 public:
  virtual ~RasterSource() = default;
  // The profile of the (band-selected) image.
  virtual const Profile& profile() const = 0;
  // Natural block size of the storage (e.g. a GeoTIFF's tile size; for a
  // VRT, the blocks of the files behind it). The default tile is aligned
  // to it.
  virtual int block_width() const = 0;
  virtual int block_height() const = 0;
  // Columns, besides 0, where the storage's blocks start a new grid of
  // block_width(): a mosaic of files placed side by side at columns that
  // are not multiples of it (io/vrt_mosaic.h). The default tile grid of a
  // run without margins restarts its columns there, so that its tiles do
  // not cut those blocks (a cut block is read once per tile it touches).
  // Sorted, each in (0, width). Empty: one grid from column 0.
  virtual std::vector<int> column_seams() const { return {}; }
  // The same for rows: where blocks that are decoded whole restart (a
  // compressed file's, whose block a tile row cuts is decoded once per
  // tile row). Rows of blocks read without decoding (an uncompressed
  // GeoTIFF's, read raw) are not seams: a read takes only the rows it
  // needs. Sorted, each in (0, height).
  virtual std::vector<int> row_seams() const { return {}; }
  // Whether a read of part of a block decodes the whole block (a
  // compressed file), so that cutting blocks costs decoding again.
  virtual bool decodes_whole_blocks() const { return false; }
  // Reads the pixels of dst.window() into dst (all selected bands).
  // REQUIRES: dst's type and band count match profile(); the window is
  // inside the image.
  virtual absl::Status Read(const View& dst) = 0;
  // Names the raster in messages (its path).
  virtual const std::string& description() const = 0;
  // The files this source reads (a VRT: itself and the files it refers to),
  // so that a run can refuse to write any of them. Empty when it reads no
  // file (a generator, memory).
  virtual std::vector<std::string> files() const { return {}; }
  // Called once after the last tile of a run was read, before any output is
  // committed: an error (the file changed during the run) fails the run.
  virtual absl::Status CheckUnchanged() { return absl::OkStatus(); }
};

// A raster being written, one window at a time, in any tile order. Not
// thread-safe: the graph calls Write from one task at a time.
//
// The life of a sink, driven by the engine so that a run's outputs appear
// all together or not at all:
//   Write*  ->  Finish  ->  Commit  ->  Cleanup        (success)
//   any step fails, or another sink's does:  Abort     (before Commit)
//                                            Rollback  (after Commit)
// Abort, Rollback and Cleanup never fail and may be called more than once.
class RasterSink {
 public:
  virtual ~RasterSink() = default;
  // Writes src (covering src.window(), in the coordinates of the sink's
  // profile) into the raster.
  virtual absl::Status Write(const ConstView& src) = 0;
  // Completes the output out of sight (flushed, closed, under a temporary
  // name): after Finish, Commit only has to move it into place.
  virtual absl::Status Finish() = 0;
  // Puts the finished output in place of what was there (atomically for a
  // file). What it replaced is kept until Cleanup, so Rollback can put it
  // back. REQUIRES: Finish succeeded.
  virtual absl::Status Commit() = 0;
  // Undoes a successful Commit: what was there before is back, byte for
  // byte (or nothing, if nothing was).
  virtual void Rollback() = 0;
  // Drops what a Commit replaced. After it, the output is final.
  virtual void Cleanup() = 0;
  // Makes what Commit and Cleanup did durable (a file sink: fsync of its
  // folder). CommitAll calls it on every sink after every Cleanup, so that
  // outputs sharing a folder share its flush; a sink dropped without it
  // syncs when destroyed. The default does nothing.
  virtual void Sync() {}
  // Drops the output before Commit: nothing is left under the final name
  // or a temporary one, and what was there before is untouched.
  virtual void Abort() = 0;
  // Names the output in messages.
  virtual const std::string& path() const = 0;
  // The file this sink replaces at Commit (empty when it writes no file),
  // so that a run can refuse to write one of its inputs or a file twice.
  virtual std::string target() const { return {}; }
  // After a successful Finish, before Commit: the finished file under its
  // temporary name, when the sink writes one (else empty). A distributed run
  // writes an uncompressed GeoTIFF's blocks into it in place (MPI-IO).
  virtual std::string finished_path() const { return {}; }
};

// Runs the commit protocol over `sinks` (each already Finished): commits
// them in order; if one fails, rolls back the ones committed before it and
// returns the error. On success, cleans every sink up.
absl::Status CommitAll(const std::vector<RasterSink*>& sinks);

// How a sink should lay out the pixels it is given.
struct SinkLayout {
  // The engine's tile size: blocks of this size let each tile become
  // whole blocks (written without a cache). A block width equal to the
  // image width asks for strips.
  int block_width = 256;
  int block_height = 256;
  // Make the file durable before it is committed (fsync it, and its folder
  // after the commit): WriteOptions::durable. False: leave it to the page
  // cache.
  bool durable = true;
  // The tiles' rows do not follow the blocks' (a grid whose rows restart at
  // a mosaic's row seams): the sink keeps the blocks a tile row cuts until
  // the next row of tiles has filled them (about one row of blocks across
  // the image), rather than writing them in parts.
  bool assemble_rows = false;
};

// Opens and creates rasters by path: what Context::Open(path) and
// Context::Write(image, path) use. GDAL's implementation is
// DefaultRasterFormat(); ContextOptions::format may name another.
// Thread-safe.
class RasterFormat {
 public:
  virtual ~RasterFormat() = default;
  // Opens `path` on the 1-based `bands` (all when empty).
  virtual absl::StatusOr<std::shared_ptr<RasterSource>> Open(const std::string& path,
                                                             std::vector<int> bands) = 0;
  // Opens `path` on `bands` read onto `grid` (its width, height,
  // geotransform and CRS) with the resampling method `resampling` (GDAL's
  // names: nearest, bilinear, cubic, average, mode...). What
  // Context::Open(path, OpenOptions{.align_to = grid}) calls. GDAL's format
  // warps (io/aligned_source.h); a format that cannot align keeps this
  // default, which refuses.
  virtual absl::StatusOr<std::shared_ptr<RasterSource>> OpenAligned(const std::string& path,
                                                                    std::vector<int> /*bands*/,
                                                                    const Profile& /*grid*/,
                                                                    const std::string& /*resampling*/) {
    return absl::UnimplementedError("cannot open '" + path + "' aligned: the context's format does not align");
  }
  // Checks now that `path` could be written with `options` (called by
  // Context::Write, so that a bad output path or option fails before
  // anything runs).
  virtual absl::Status CheckWritable(const std::string& path, const std::vector<std::string>& options) = 0;
  // Creates the output `path` for `profile` (nothing is visible under
  // `path` before Commit). `options` are "KEY=VALUE" creation options
  // (the profile's writer_options come first).
  virtual absl::StatusOr<std::unique_ptr<RasterSink>> Create(const std::string& path,
                                                             const Profile& profile,
                                                             const SinkLayout& layout,
                                                             const std::vector<std::string>& options) = 0;
};

// GDAL's format (GeoTIFF output). Defined by the io layer (io/), which
// every program linking eoscale::eoscale has: the graph uses it without
// including io/.
std::shared_ptr<RasterFormat> DefaultRasterFormat();

}  // namespace eoscale

#endif  // EOSCALE_CORE_RASTER_IO_H_
