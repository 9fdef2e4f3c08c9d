// Internal: hooks that let a test hold a thread where the scheduler only
// rarely stops one, to make a rare interleaving certain. Nothing here is for
// production use; an unset hook costs one load where it is called.
#ifndef EOSCALE_GRAPH_TEST_HOOKS_H_
#define EOSCALE_GRAPH_TEST_HOOKS_H_

#include <cstdint>

namespace eoscale::internal {

// Called by the port body of a consumer that gathers several pieces per tile
// (a Map or Reduce with several inputs, or reading a Map output with a
// margin), once its tile is in the gatherer for every consumer tile that
// reads it and before the body fires the tiles that piece completed (
// `completed`) or counts itself done. `exec` is the consumer's exec node,
// `tile` the piece's tile. The body holds no reference to the piece there:
// a hook that blocks shows what the run holds meanwhile. nullptr: none (the
// default). Set it only while no run is in progress.
using PieceHandedHook = void (*)(int exec, int64_t tile, bool completed);
void SetPieceHandedHookForTesting(PieceHandedHook hook);

}  // namespace eoscale::internal

#endif  // EOSCALE_GRAPH_TEST_HOOKS_H_
