/* hop/hop.h: the umbrella header. Include this one. */
#ifndef HOP_HOP_H
#define HOP_HOP_H

#include "hop/common.h"
#include "hop/error.h"
#include "hop/version.h"
#include "hop/executor.h"
#include "hop/awaitable.h"
#include "hop/future.h"
#include "hop/task.h"
#include "hop/inline_executor.h"
#include "hop/manual_executor.h"
#include "hop/offload.h"
#include "hop/pool.h"
#include "hop/blocking.h"
#include "hop/loop.h"
#include "hop/timer.h"
#include "hop/task_local.h"
#include "hop/when.h"
#include "hop/group.h"
#include "hop/nursery.h"
#include "hop/mutex.h"
#include "hop/event.h"
#include "hop/semaphore.h"
#include "hop/channel.h"
#include "hop/once.h"
#include "hop/stream.h"
#include "hop/tcp.h"
#include "hop/dns.h"
#include "hop/histogram.h"
#include "hop/fs.h"

#endif /* HOP_HOP_H */
