// roofline: what this machine can do for a workload's bytes, measured with
// trivial code (docs/benchmarks.md, "Roofline"): memory bandwidth (memcpy),
// reading the workload's input files from the page cache (pread into a
// reused buffer) and writing its output bytes into the page cache (write,
// no fsync), each with 1 and T threads. From those it prints the I/O floor
// of the workload: the bytes it must read (a fraction of each input: the
// bands it uses) and write, at the measured rates.
//
//   roofline [--threads T] [--read-fraction F] [--write-bytes N] [--out-dir D]
//            [--memcpy-mib M (256)] INPUT...
//
// The inputs are read once first so that they are in the page cache (as in
// the benchmarks, which run on cached inputs). Medians of 5 runs.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kChunk = size_t{1} << 20;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

template <typename F>
double Median5(F f) {
  std::vector<double> t;
  for (int i = 0; i < 5; ++i) t.push_back(f());
  std::sort(t.begin(), t.end());
  return t[2];
}

// Runs body(k) on `threads` threads and returns the wall time.
template <typename F>
double Parallel(int threads, F body) {
  const auto start = Clock::now();
  std::vector<std::thread> ts;
  for (int k = 0; k < threads; ++k) ts.emplace_back(body, k);
  for (std::thread& t : ts) t.join();
  return Seconds(start, Clock::now());
}

// GB/s of memcpy between two buffers of `mib` MiB per thread.
double MemcpyRate(int threads, int mib) {
  const size_t kBytes = static_cast<size_t>(mib) << 20;
  std::vector<std::vector<char>> src(threads, std::vector<char>(kBytes, 1)), dst(threads, std::vector<char>(kBytes, 2));
  const double t = Median5([&] {
    return Parallel(threads, [&](int k) { std::memcpy(dst[k].data(), src[k].data(), kBytes); });
  });
  return static_cast<double>(kBytes) * threads / t / 1e9;
}

struct Range {
  int fd;
  int64_t begin, end;
};

// Splits the files' bytes into `threads` contiguous shares.
std::vector<std::vector<Range>> Shares(const std::vector<int>& fds, const std::vector<int64_t>& sizes, int threads) {
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  std::vector<std::vector<Range>> out(threads);
  const int64_t per = (total + threads - 1) / threads;
  int64_t pos = 0;
  for (size_t f = 0; f < fds.size(); ++f) {
    for (int64_t off = 0; off < sizes[f];) {
      const int k = static_cast<int>(std::min<int64_t>(pos / per, threads - 1));
      const int64_t room = (k + 1) * per - pos;
      const int64_t n = std::min(sizes[f] - off, std::max<int64_t>(room, 1));
      out[k].push_back({fds[f], off, off + n});
      off += n, pos += n;
    }
  }
  return out;
}

double ReadRate(const std::vector<int>& fds, const std::vector<int64_t>& sizes, int threads) {
  const auto shares = Shares(fds, sizes, threads);
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  const double t = Median5([&] {
    return Parallel(threads, [&](int k) {
      std::vector<char> buf(kChunk);
      for (const Range& r : shares[k]) {
        for (int64_t off = r.begin; off < r.end;) {
          const ssize_t n = pread(r.fd, buf.data(), std::min<int64_t>(kChunk, r.end - off), off);
          if (n <= 0) std::abort();
          off += n;
        }
      }
    });
  });
  return static_cast<double>(total) / t / 1e9;
}

double WriteRate(const std::string& dir, int64_t bytes, int threads) {
  const double t = Median5([&] {
    std::vector<std::string> names;
    for (int k = 0; k < threads; ++k) names.push_back(dir + "/roofline_" + std::to_string(getpid()) + "_" + std::to_string(k));
    const double s = Parallel(threads, [&](int k) {
      const int fd = open(names[k].c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0) std::abort();
      std::vector<char> buf(kChunk, 3);
      for (int64_t done = 0; done < bytes / threads;) {
        const ssize_t n = write(fd, buf.data(), std::min<int64_t>(kChunk, bytes / threads - done));
        if (n <= 0) std::abort();
        done += n;
      }
      close(fd);
    });
    for (const std::string& n : names) unlink(n.c_str());
    return s;
  });
  return static_cast<double>(bytes) / t / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double fraction = 1.0;
  int64_t write_bytes = 0;
  std::string out_dir = "/tmp";
  int memcpy_mib = 256;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "roofline: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") {
      threads = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--read-fraction") {
      fraction = std::atof(value().c_str());
    } else if (a == "--write-bytes") {
      write_bytes = std::atoll(value().c_str());
    } else if (a == "--memcpy-mib") {
      memcpy_mib = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--out-dir") {
      out_dir = value();
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr,
                   "usage: roofline [--threads T] [--read-fraction F] [--write-bytes N] [--out-dir D] [--memcpy-mib M] INPUT...\n");
      return 2;
    } else {
      inputs.push_back(a);
    }
  }
  std::vector<int> fds;
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (const std::string& p : inputs) {
    const int fd = open(p.c_str(), O_RDONLY);
    if (fd < 0) {
      std::fprintf(stderr, "roofline: cannot open %s: %s\n", p.c_str(), std::strerror(errno));
      return 1;
    }
    fds.push_back(fd);
    sizes.push_back(lseek(fd, 0, SEEK_END));
    total += sizes.back();
  }
  std::printf("memcpy_GBps 1 thread %.2f, %d threads %.2f\n", MemcpyRate(1, memcpy_mib), threads,
              MemcpyRate(threads, memcpy_mib));
  if (!fds.empty()) {
    ReadRate(fds, sizes, 1);  // into the page cache
    const double r1 = ReadRate(fds, sizes, 1), rt = ReadRate(fds, sizes, threads);
    const double needed = total * fraction;
    std::printf("pagecache_read_GBps 1 thread %.2f, %d threads %.2f (%.3f GB of inputs)\n", r1, threads, rt,
                total / 1e9);
    std::printf("floor_read_s %.3f (%.3f GB needed, %d threads)\n", needed / 1e9 / rt, needed / 1e9, threads);
  }
  if (write_bytes > 0) {
    const double w1 = WriteRate(out_dir, write_bytes, 1), wt = WriteRate(out_dir, write_bytes, threads);
    std::printf("pagecache_write_GBps 1 thread %.2f, %d threads %.2f\n", w1, threads, wt);
    std::printf("floor_write_s %.3f (%.3f GB, %d threads)\n", write_bytes / 1e9 / wt, write_bytes / 1e9, threads);
  }
  for (int fd : fds) close(fd);
  return 0;
}
