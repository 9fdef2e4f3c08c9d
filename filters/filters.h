// Ready-made filters (the filter library grows here).
#ifndef EOSCALE_FILTERS_FILTERS_H_
#define EOSCALE_FILTERS_FILTERS_H_

namespace eoscale::filters {}  // namespace eoscale::filters

#endif  // EOSCALE_FILTERS_FILTERS_H_
