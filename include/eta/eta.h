/* eta/eta.h - the whole public API of eta: include this, link -leta. */
#ifndef ETA_ETA_H
#define ETA_ETA_H

#include "core.h"
#include "optim.h"
#include "sched.h"
#include "nn.h"
#include "data.h"
#include "plot.h"
#include "rl.h"

#endif
