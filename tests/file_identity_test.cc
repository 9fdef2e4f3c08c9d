// CheckDistinctFiles: an output that is an input, or another output, under
// any spelling (relative, `..`, symlinks, hard links, a file that does not
// exist yet) is refused before anything runs, naming both paths; distinct
// files are accepted. ResolveOutputPath follows an output's symlinks.
#include "eoscale/core/file_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace eoscale {
namespace {

using ::eoscale::testing::TempDir;
using ::testing::HasSubstr;

void Touch(const std::string& path) { std::ofstream(path) << "x"; }

std::string Relative(const std::string& path) {
  return std::filesystem::relative(path, std::filesystem::current_path()).string();
}

absl::Status Check(const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  std::vector<NamedPath> in, out;
  for (size_t i = 0; i < inputs.size(); ++i) in.push_back({"input " + std::to_string(i) + " of 'ndwi'", inputs[i]});
  for (size_t i = 0; i < outputs.size(); ++i) out.push_back({"output " + std::to_string(i), outputs[i]});
  absl::Status s = CheckDistinctFiles(in, out);
  if (!s.ok()) ::testing::Test::RecordProperty("error", s.ToString());
  return s;
}

TEST(FileIdentityTest, OutputWithTheSpellingOfAnInputIsRefusedNamingBoth) {
  TempDir dir;
  const std::string a = dir.File("a.tif"), b = dir.File("b.tif");
  Touch(a);
  Touch(b);
  const absl::Status s = Check({b, a}, {a});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "refusing to write '" + a + "' (output 0): it is the same file as '" + a +
                             "' (input 1 of 'ndwi'); a run never writes one of its inputs");
}

TEST(FileIdentityTest, AnyOtherSpellingOfAnInputIsRefused) {
  TempDir dir;
  const std::string a = dir.File("a.tif");
  Touch(a);
  ASSERT_EQ(::mkdir(dir.File("sub").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(a.c_str(), dir.File("link.tif").c_str()), 0);
  ASSERT_EQ(::symlink(dir.path().c_str(), dir.File("dirlink").c_str()), 0);
  ASSERT_EQ(::link(a.c_str(), dir.File("hard.tif").c_str()), 0);
  for (const std::string& spelling :
       {dir.File("./a.tif"), dir.File("sub/../a.tif"), dir.File("sub//../a.tif"), Relative(a), dir.File("link.tif"),
        dir.File("dirlink/a.tif"), dir.File("hard.tif")}) {
    SCOPED_TRACE(spelling);
    const absl::Status s = Check({a}, {spelling});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("'" + spelling + "' (output 0)"));
    EXPECT_THAT(s.message(), HasSubstr("'" + a + "' (input 0 of 'ndwi')"));
    // And the other way round: the input spelled differently.
    EXPECT_EQ(Check({spelling}, {a}).code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(FileIdentityTest, TwoWritesToOneFileAreRefusedWhetherItExistsOrNot) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("sub").c_str(), 0755), 0);
  // A file that does not exist yet: identified by its folder and name.
  const std::string fresh = dir.File("new.tif");
  ASSERT_EQ(::symlink(fresh.c_str(), dir.File("dangling.tif").c_str()), 0);
  for (const std::string& other : {fresh, dir.File("sub/../new.tif"), dir.File("dangling.tif"), Relative(fresh)}) {
    SCOPED_TRACE(other);
    const absl::Status s = Check({}, {fresh, other});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "refusing to write '" + other + "' (output 1): it is the same file as '" + fresh +
                               "' (output 0); a run writes each file once");
  }
  // An existing one, through a hard link.
  const std::string old = dir.File("old.tif");
  Touch(old);
  ASSERT_EQ(::link(old.c_str(), dir.File("sub/old.tif").c_str()), 0);
  EXPECT_EQ(Check({}, {old, dir.File("sub/old.tif")}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(FileIdentityTest, DistinctFilesAreAccepted) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("sub").c_str(), 0755), 0);
  const std::string a = dir.File("a.tif"), b = dir.File("b.tif");
  Touch(a);
  Touch(b);
  Touch(dir.File("sub/a.tif"));  // same name, another folder
  EXPECT_TRUE(Check({a, b, a}, {dir.File("sub/a.tif"), dir.File("c.tif"), dir.File("sub/c.tif")}).ok());
  // An input read twice is fine; a copy (another inode) is another file.
  std::filesystem::copy_file(a, dir.File("copy.tif"));
  EXPECT_TRUE(Check({a, a}, {dir.File("copy.tif")}).ok());
  // A missing folder is not this check's business (writing fails later).
  EXPECT_TRUE(Check({a}, {dir.File("missing/a.tif")}).ok());
}

TEST(FileIdentityTest, VirtualPathsAreComparedAsStrings) {
  EXPECT_EQ(Check({"/vsimem/a.tif"}, {"/vsimem/a.tif"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Check({}, {"/vsimem/a.tif", "/vsimem/a.tif"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Check({"/vsimem/a.tif"}, {"/vsimem/b.tif"}).ok());
  EXPECT_TRUE(IsVirtualPath("/vsizip/x.zip/a.tif"));
  EXPECT_FALSE(IsVirtualPath("/tmp/vsimem/a.tif"));
}

TEST(FileIdentityTest, ResolveOutputPathFollowsSymlinksToTheTargetsFolder) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.File("real").c_str(), 0755), 0);
  // link.tif -> real/../real/target.tif (relative, through `..`), which does not exist yet.
  ASSERT_EQ(::symlink("real/../real/target.tif", dir.File("link.tif").c_str()), 0);
  ASSERT_EQ(::symlink("link.tif", dir.File("link2.tif").c_str()), 0);
  const std::string canonical = std::filesystem::canonical(dir.File("real")).string();
  for (const std::string& p : {dir.File("link.tif"), dir.File("link2.tif"), dir.File("real/target.tif")}) {
    SCOPED_TRACE(p);
    absl::StatusOr<OutputLocation> loc = ResolveOutputPath(p);
    ASSERT_TRUE(loc.ok()) << loc.status();
    EXPECT_EQ(loc->folder, canonical);
    EXPECT_EQ(loc->name, "target.tif");
  }
  absl::StatusOr<OutputLocation> plain = ResolveOutputPath("plain.tif");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->folder, std::filesystem::current_path().string());
}

TEST(FileIdentityTest, ResolveOutputPathRefusesLoopsFoldersAndMissingFolders) {
  TempDir dir;
  ASSERT_EQ(::symlink("loop2.tif", dir.File("loop1.tif").c_str()), 0);
  ASSERT_EQ(::symlink("loop1.tif", dir.File("loop2.tif").c_str()), 0);
  absl::StatusOr<OutputLocation> loop = ResolveOutputPath(dir.File("loop1.tif"));
  EXPECT_EQ(loop.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(loop.status().message(), HasSubstr("symbolic links loop"));
  EXPECT_EQ(ResolveOutputPath(dir.path() + "/").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveOutputPath(dir.File("x/..")).status().code(), absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<OutputLocation> missing = ResolveOutputPath(dir.File("missing/out.tif"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "cannot write '" + dir.File("missing/out.tif") + "': folder '" + dir.File("missing") + "' does not exist");
  EXPECT_EQ(ResolveOutputPath("").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace eoscale
