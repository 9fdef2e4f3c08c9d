// mpi::Session: for programs that do not initialise MPI themselves (the
// examples). It is the one place in EOScale that calls MPI_Init_thread and
// MPI_Finalize, and only when the program creates a Session: an embedding
// program that owns MPI creates MpiDistribution directly instead.
//
//   std::optional<eoscale::mpi::Session> mpi;
//   if (eoscale::mpi::LaunchedByMpi()) mpi.emplace(&argc, &argv);
//   options.distribution = mpi ? mpi->world() : nullptr;
//
// This header does not include mpi.h.
#ifndef EOSCALE_MPI_SESSION_H_
#define EOSCALE_MPI_SESSION_H_

#include <memory>

#include "eoscale/graph/distribution.h"

namespace eoscale::mpi {

// True when the environment says this process is a rank of an MPI job
// (Open MPI's mpirun: OMPI_COMM_WORLD_SIZE; PMIx or PMI launchers such as
// Slurm's srun --mpi=pmix: PMIX_RANK, PMI_SIZE).
bool LaunchedByMpi();

class Session {
 public:
  // Initialises MPI unless the host already did, asking for
  // MPI_THREAD_MULTIPLE (the ranks then send the tiles of compressed .tif
  // outputs to rank 0 during the run; an MPI that provides less makes rank
  // 0 assemble them after the run instead; so does EOSCALE_MPI_THREAD=funneled
  // in the environment, which asks for MPI_THREAD_FUNNELED); a failure ends
  // the program (MPI's own behaviour).
  Session(int* argc, char*** argv);
  // Finalises MPI if this Session initialised it, after dropping world().
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // A distribution over MPI_COMM_WORLD.
  const std::shared_ptr<Distribution>& world() const { return world_; }

 private:
  bool initialized_here_ = false;
  std::shared_ptr<Distribution> world_;
};

}  // namespace eoscale::mpi

#endif  // EOSCALE_MPI_SESSION_H_
