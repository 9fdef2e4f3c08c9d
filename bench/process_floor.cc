// process_floor: the process floor the budget figures subtract (docs/
// benchmarks.md, "Engine v2, before and after"): a process that loads GDAL
// (all drivers registered) and oneTBB (two threads started) and does nothing
// else. Prints its peak RSS (getrusage); /usr/bin/time -f %M shows the same.
#include <sys/resource.h>

#include <cstdio>

#include "gdal_priv.h"
#include "oneapi/tbb/parallel_for.h"
#include "oneapi/tbb/task_arena.h"

int main() {
  GDALAllRegister();
  tbb::task_arena arena(2);
  arena.execute([] { tbb::parallel_for(0, 1000, [](int) {}); });
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak_rss_MiB %.1f\n", ru.ru_maxrss / 1024.0);
  return 0;
}
