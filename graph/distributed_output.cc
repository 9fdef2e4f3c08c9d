// Joining the ranks' parts of an output on rank 0 (distributed_run.h): a
// VRT written as text beside its parts, or one file assembled through the
// context's RasterFormat by reading the parts back, row block by row block.
// Both are RasterSinks, so the commit protocol (temporary name, rename,
// rollback) is the same as every other output's.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eoscale/graph/distributed_run.h"

namespace eoscale::internal {
namespace {

std::string XmlEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

const char* GdalTypeName(PixelType t) {
  switch (t) {
    case PixelType::kU8:
    case PixelType::kI8: return "Byte";  // GDAL 3.6: signed bytes are tagged Byte
    case PixelType::kU16: return "UInt16";
    case PixelType::kI16: return "Int16";
    case PixelType::kU32: return "UInt32";
    case PixelType::kI32: return "Int32";
    case PixelType::kF32: return "Float32";
    case PixelType::kF64: return "Float64";
  }
  return "Byte";
}

std::string BaseName(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string VrtText(const DistributedOutput& out) {
  const Profile& p = out.profile;
  std::string x = absl::StrFormat("<VRTDataset rasterXSize=\"%d\" rasterYSize=\"%d\">\n", p.width, p.height);
  if (!p.crs_wkt.empty()) absl::StrAppend(&x, "  <SRS>", XmlEscape(p.crs_wkt), "</SRS>\n");
  if (p.HasGeotransform()) {
    const auto& g = p.geotransform;
    absl::StrAppendFormat(&x, "  <GeoTransform>%.17g, %.17g, %.17g, %.17g, %.17g, %.17g</GeoTransform>\n", g[0], g[1],
                          g[2], g[3], g[4], g[5]);
  }
  for (int b = 1; b <= p.bands; ++b) {
    absl::StrAppendFormat(&x, "  <VRTRasterBand dataType=\"%s\" band=\"%d\">\n", GdalTypeName(p.type), b);
    if (p.type == PixelType::kI8) {
      x += "    <Metadata domain=\"IMAGE_STRUCTURE\"><MDI key=\"PIXELTYPE\">SIGNEDBYTE</MDI></Metadata>\n";
    }
    if (p.nodata) absl::StrAppendFormat(&x, "    <NoDataValue>%.17g</NoDataValue>\n", *p.nodata);
    for (const DistributedOutput::Part& part : out.parts) {
      const Window& w = part.window;
      absl::StrAppendFormat(&x,
                            "    <SimpleSource>\n"
                            "      <SourceFilename relativeToVRT=\"1\">%s</SourceFilename>\n"
                            "      <SourceBand>%d</SourceBand>\n"
                            "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"%d\" ySize=\"%d\"/>\n"
                            "      <DstRect xOff=\"%d\" yOff=\"%d\" xSize=\"%d\" ySize=\"%d\"/>\n"
                            "    </SimpleSource>\n",
                            XmlEscape(BaseName(part.path)), b, w.width, w.height, w.x, w.y, w.width, w.height);
    }
    x += "  </VRTRasterBand>\n";
  }
  x += "</VRTDataset>\n";
  return x;
}

// A small text file (the VRT) with the RasterSink commit protocol: written
// under a temporary name at Finish, renamed into place at Commit, what it
// replaced kept under a backup name until Cleanup. Durable (the output's
// WriteOptions::durable), the file is fsync'ed at Finish and its folder at
// Sync (or when the sink is dropped without it), as the GDAL sink does;
// otherwise both are left to the page cache.
class TextFileSink final : public RasterSink {
 public:
  TextFileSink(std::string path, std::string text, bool durable)
      : path_(std::move(path)), text_(std::move(text)), durable_(durable) {
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
    const std::string stem = absl::StrCat(dir, ".", BaseName(path_), ".eoscale-", ::getpid());
    temp_ = stem + ".tmp";
    backup_ = stem + ".bak";
  }
  ~TextFileSink() override {
    Abort();
    Sync();
  }
  absl::Status Write(const ConstView&) override { return absl::OkStatus(); }
  absl::Status Finish() override {
    const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Error("cannot create");
    have_temp_ = true;
    const bool ok = ::write(fd, text_.data(), text_.size()) == static_cast<ssize_t>(text_.size()) &&
                    (!durable_ || ::fsync(fd) == 0);
    const int err = errno;
    const bool closed = ::close(fd) == 0;
    errno = err;
    return ok && closed ? absl::OkStatus() : Error("cannot write");
  }
  absl::Status Commit() override {
    had_target_ = ::access(path_.c_str(), F_OK) == 0;
    if (had_target_ && ::rename(path_.c_str(), backup_.c_str()) != 0) return Error("cannot move aside");
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      const absl::Status s = Error("cannot rename into place");
      if (had_target_) ::rename(backup_.c_str(), path_.c_str());
      return s;
    }
    have_temp_ = false;
    committed_ = true;
    folder_changed_ = true;
    return absl::OkStatus();
  }
  void Rollback() override {
    if (!committed_) return;
    if (had_target_) {
      ::rename(backup_.c_str(), path_.c_str());
    } else {
      ::unlink(path_.c_str());
    }
    committed_ = false;
  }
  void Cleanup() override {
    if (committed_ && had_target_) ::unlink(backup_.c_str());
    committed_ = false;
  }
  void Sync() override {
    if (!durable_ || !folder_changed_) return;
    folder_changed_ = false;
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // best effort, as the GDAL sink's: the rename itself succeeded
    ::fsync(fd);
    ::close(fd);
  }
  void Abort() override {
    if (have_temp_) ::unlink(temp_.c_str());
    have_temp_ = false;
  }
  const std::string& path() const override { return path_; }
  std::string target() const override { return path_; }

 private:
  absl::Status Error(const char* what) const {
    return absl::InternalError(absl::StrCat("'", path_, "': ", what, ": ", std::strerror(errno)));
  }
  std::string path_, text_, temp_, backup_;
  bool durable_;
  bool have_temp_ = false, had_target_ = false, committed_ = false;
  bool folder_changed_ = false;  // renamed into place, folder not yet synced
};

}  // namespace

absl::StatusOr<std::unique_ptr<RasterSink>> JoinOutput(GraphState& g, const DistributedOutput& out) {
  if (out.vrt) {
    auto sink = std::make_unique<TextFileSink>(out.path, VrtText(out), out.layout.durable);
    if (absl::Status s = sink->Finish(); !s.ok()) return s;
    return std::unique_ptr<RasterSink>(std::move(sink));
  }
  absl::StatusOr<std::unique_ptr<RasterSink>> sink = g.format->Create(out.path, out.profile, out.layout, out.options);
  if (!sink.ok()) return sink.status();
  const Profile& p = out.profile;
  const int rows = std::max(1, out.layout.block_height);
  std::vector<std::byte> buf;
  for (const DistributedOutput::Part& part : out.parts) {
    absl::StatusOr<std::shared_ptr<RasterSource>> src = g.format->Open(part.path, {});
    absl::Status st = src.status();
    for (int y = 0; st.ok() && y < part.window.height; y += rows) {
      const int h = std::min(rows, part.window.height - y);
      buf.resize(static_cast<size_t>(part.window.width) * h * p.bands * PixelSize(p.type));
      st = (*src)->Read(View::Contiguous(buf.data(), p.type, p.bands, Window{0, y, part.window.width, h}));
      // One block at a time: GDAL's sink writes whole blocks straight to
      // the file, and anything else through its block cache (measured: a
      // 10980^2 pipeline's assembly held 730 MiB with full-width writes).
      const int bw = std::max(1, out.layout.block_width);
      const size_t px = PixelSize(p.type);
      for (int x = 0; st.ok() && x < part.window.width; x += bw) {
        const int w = std::min(bw, part.window.width - x);
        st = (*sink)->Write(ConstView(buf.data() + x * px, p.type, p.bands,
                                      Window{part.window.x + x, part.window.y + y, w, h}, part.window.width,
                                      static_cast<int64_t>(part.window.width) * h));
      }
    }
    if (!st.ok()) {
      (*sink)->Abort();
      return absl::Status(st.code(), absl::StrCat("joining '", out.path, "' from '", part.path, "': ", st.message()));
    }
  }
  if (absl::Status s = (*sink)->Finish(); !s.ok()) {
    (*sink)->Abort();
    return s;
  }
  return sink;
}

}  // namespace eoscale::internal
