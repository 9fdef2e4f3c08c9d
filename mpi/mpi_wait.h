// Internal to eoscale_mpi: waiting on MPI requests without spinning on a
// core the other ranks need (Open MPI's blocking calls poll).
#ifndef EOSCALE_MPI_MPI_WAIT_H_
#define EOSCALE_MPI_MPI_WAIT_H_

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace eoscale::mpi::internal {

// Waits for `request`, sleeping between tests (50 us, doubling up to 5 ms).
inline void WaitPolled(MPI_Request* request) {
  int finished = 0;
  for (int pause_us = 50;; pause_us = std::min(pause_us * 2, 5000)) {
    MPI_Test(request, &finished, MPI_STATUS_IGNORE);
    if (finished) return;
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
}

}  // namespace eoscale::mpi::internal

#endif  // EOSCALE_MPI_MPI_WAIT_H_
