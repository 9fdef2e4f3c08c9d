#include "eoscale/filters/filters.h"
