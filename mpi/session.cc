#include "eoscale/mpi/session.h"

#include <mpi.h>

#include <cstdlib>

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
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    initialized_here_ = true;
  }
  world_ = *MpiDistribution::Create(MPI_COMM_WORLD);
}

Session::~Session() {
  world_.reset();
  if (initialized_here_) MPI_Finalize();
}

}  // namespace eoscale::mpi
