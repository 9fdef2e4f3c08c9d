// Alignment in the C++ API: Context::Open(path, OpenOptions{.align_to})
// reads a file of another resolution, extent or CRS onto another image's
// grid or onto a grid given by extent and resolution (io::GridFromExtent),
// equal to gdalwarp -et 0 to the same grid with the same method, whatever
// the tiling; and its errors.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eoscale/core/array.h"
#include "eoscale/graph/context.h"
#include "eoscale/io/aligned_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::GdalWarp;
using ::eoscale::testing::ReadTiff;
using ::eoscale::testing::SameBytes;
using ::eoscale::testing::TempDir;
using ::testing::HasSubstr;

class AlignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A 10 m grid; a 20 m image offset by half a 10 m pixel that overhangs
    // it; the 20 m image reprojected to longitude/latitude.
    ten_.width = 180;
    ten_.height = 130;
    ten_.type = PixelType::kU16;
    ten_.geotransform = {600000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0};
    ten_.crs_wkt = testing::EpsgWkt(32631);
    testing::WriteTiff(testing::RandomArray(ten_, 3), dir_.File("ten.tif"), 64);
    Profile twenty = ten_;
    twenty.width = 100;
    twenty.height = 70;
    twenty.type = PixelType::kF32;
    twenty.geotransform = {599955.0, 20.0, 0.0, 5000045.0, 0.0, -20.0};
    testing::WriteTiff(testing::RandomArray(twenty, 4), dir_.File("twenty.tif"), 64);
    GdalWarp(dir_.File("twenty.tif"), dir_.File("geo.tif"), {"-t_srs", "EPSG:4326", "-r", "bilinear"});
  }
  // The engine's read of `path` onto `grid`, with tiles of `tile`.
  Array Engine(const std::string& path, const Profile& grid, const std::string& method, int tile) {
    ContextOptions o;
    o.workers = 3;
    o.tiling.tile_size = tile;
    auto ctx = *Context::Create(o);
    absl::StatusOr<Image> img = ctx->Open(path, OpenOptions{.align_to = grid, .resampling = method});
    EXPECT_TRUE(img.ok()) << img.status();
    if (!img.ok()) return Array();
    absl::StatusOr<Array> a = ctx->ReadAll(*img);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *std::move(a) : Array();
  }
  TempDir dir_;
  Profile ten_;
};

TEST_F(AlignTest, OpenOntoAnotherImagesGridEqualsGdalwarp) {
  auto ctx = *Context::Create({.workers = 2});
  const Profile grid = *ctx->Open(dir_.File("ten.tif"))->profile();
  for (const std::string source : {"twenty.tif", "geo.tif"}) {
    for (const std::string method : {"nearest", "bilinear", "cubic", "average"}) {
      SCOPED_TRACE(absl::StrCat(source, " ", method));
      const std::string ref = dir_.File(absl::StrCat("ref_", method, "_", source));
      GdalWarp(
          dir_.File(source), ref,
          {"-t_srs", "EPSG:32631", "-te", "600000", "4998700", "601800", "5000000", "-tr", "10", "10", "-r", method});
      const Array want = ReadTiff(ref);
      const Array got = Engine(dir_.File(source), grid, method, 37);
      ASSERT_EQ(got.profile().width, 180);
      ASSERT_EQ(got.profile().height, 130);
      EXPECT_EQ(got.profile().type, PixelType::kF32);  // the file's type, on the grid
      EXPECT_EQ(got.profile().geotransform, grid.geotransform);
      EXPECT_TRUE(SameBytes(got, want));
    }
  }
}

TEST_F(AlignTest, OpenOntoAGridOfExtentAndResolutionEqualsGdalwarp) {
  // 15 m pixels over part of the 10 m image, an extent that is not a whole
  // number of pixels (gdalwarp rounds halves up: 1237.5 / 15 -> 83 columns).
  const std::vector<double> te = {600105.0, 4998830.0, 601342.5, 4999820.0};
  absl::StatusOr<Profile> grid = io::GridFromExtent(te[0], te[1], te[2], te[3], 15.0, 15.0, "EPSG:32631");
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(grid->width, 83);
  EXPECT_EQ(grid->height, 66);
  for (const std::string method : {"nearest", "cubic", "mode"}) {
    SCOPED_TRACE(method);
    const std::string ref = dir_.File(absl::StrCat("ref15_", method, ".tif"));
    GdalWarp(
        dir_.File("ten.tif"), ref,
        {"-t_srs", "EPSG:32631", "-te", "600105", "4998830", "601342.5", "4999820", "-tr", "15", "15", "-r", method});
    const Array want = ReadTiff(ref);
    ASSERT_EQ(want.profile().width, grid->width);
    ASSERT_EQ(want.profile().height, grid->height);
    for (int tile : {16, 0}) {
      const Array got = Engine(dir_.File("ten.tif"), *grid, method, tile);
      EXPECT_EQ(got.profile().type, PixelType::kU16);
      EXPECT_TRUE(SameBytes(got, want)) << "tile " << tile;
    }
  }
  // Another CRS: the 10 m image read onto a longitude/latitude grid.
  grid = io::GridFromExtent(4.2740, 45.1360, 4.2930, 45.1450, 0.0002, 0.0002, "EPSG:4326");
  ASSERT_TRUE(grid.ok()) << grid.status();
  GdalWarp(dir_.File("ten.tif"), dir_.File("ref_geo.tif"),
           {"-t_srs", "EPSG:4326", "-te", "4.2740", "45.1360", "4.2930", "45.1450", "-tr", "0.0002", "0.0002", "-r",
            "bilinear"});
  const Array want = ReadTiff(dir_.File("ref_geo.tif"));
  const Array got = Engine(dir_.File("ten.tif"), *grid, "bilinear", 32);
  EXPECT_TRUE(SameBytes(got, want));
}

TEST_F(AlignTest, ErrorsAreStatusesNamingTheProblem) {
  auto ctx = *Context::Create({.workers = 1});
  const Profile grid = *ctx->Open(dir_.File("ten.tif"))->profile();
  absl::StatusOr<Image> img = ctx->Open(dir_.File("twenty.tif"), OpenOptions{.align_to = grid, .resampling = "cubc"});
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(img.status().message(), HasSubstr("unknown resampling 'cubc'"));
  img = ctx->Open(dir_.File("twenty.tif"), OpenOptions{.resampling = "bilinear"});
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(img.status().message(), HasSubstr("needs align_to"));
  Profile bare = grid;
  bare.crs_wkt.clear();
  img = ctx->Open(dir_.File("twenty.tif"), OpenOptions{.align_to = bare});
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
  img = ctx->Open(dir_.File("missing.tif"), OpenOptions{.align_to = grid});
  EXPECT_EQ(img.status().code(), absl::StatusCode::kNotFound);
  img = ctx->Open(dir_.File("twenty.tif"), OpenOptions{.bands = {2}, .align_to = grid});
  EXPECT_EQ(img.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(img.status().message(), HasSubstr("band 2"));
  EXPECT_FALSE(io::GridFromExtent(0, 0, 100, 100, 0, 10, "EPSG:32631").ok());
  EXPECT_FALSE(io::GridFromExtent(0, 0, 4, 100, 10, 10, "EPSG:32631").ok());
  EXPECT_THAT(io::GridFromExtent(0, 0, 100, 100, 10, 10, "EPSG:999999").status().message(), HasSubstr("unknown CRS"));
  // Without align_to, OpenOptions is Open(path, bands).
  img = ctx->Open(dir_.File("twenty.tif"), OpenOptions{.bands = {1}});
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->profile()->width, 100);
}

}  // namespace
}  // namespace eoscale
