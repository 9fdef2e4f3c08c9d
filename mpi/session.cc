#include "eoscale/mpi/session.h"

#include <mpi.h>

#include <cstdlib>
#include <cstring>

#include "eoscale/mpi/mpi_distribution.h"

namespace eoscale::mpi {

bool LaunchedByMpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

Session::Session(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // EOSCALE_MPI_THREAD=funneled: for an MPI that is slow or broken under
    // MPI_THREAD_MULTIPLE (compressed .tif outputs are then assembled by
    // rank 0 after the run; docs/distributed.md).
    const char* level = std::getenv("EOSCALE_MPI_THREAD");
    const bool funneled = level != nullptr && std::strcmp(level, "funneled") == 0;
    int provided = 0;
    MPI_Init_thread(argc, argv, funneled ? MPI_THREAD_FUNNELED : MPI_THREAD_MULTIPLE, &provided);
    initialized_here_ = true;
  }
  world_ = *MpiDistribution::Create(MPI_COMM_WORLD);
}

Session::~Session() {
  world_.reset();
  if (initialized_here_) MPI_Finalize();
}

}  // namespace eoscale::mpi
