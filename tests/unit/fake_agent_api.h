/* fake_agent_api.h - a stand-in for the agent behind api/agent_api.h, for the api tests.
 *
 * Pods: default/mypod (uid "uid-mypod"; containers mycontainer, forever, flood, broken,
 * waiting) and kube-system/dns (uid "uid-dns"; container dns).
 * Logs of mycontainer: a line echoing the options, then "line 1".."line 3" one per timer tick,
 * plus "follow 1".."follow 3" with follow; then done. forever: a line per tick, never done.
 * flood: 64 KiB per tick, never done. broken: one line, then done with an error. waiting:
 * refused with EINVAL.
 * Exec by argv[0]: echo (args joined, exit 0), false (exit 1), both ("out\n" then "err\n",
 * exit 3), args (argv joined by '|'), hang (never ends), anything else: could not run (EIO).
 * Events: one "Started" event per pod; the only selector understood is involvedObject.name=X
 * (any other is refused with EINVAL).
 * All callbacks run from timers on the loop, never inside the call that started them.
 */
#ifndef FAKE_AGENT_API_H
#define FAKE_AGENT_API_H

#include "agent_api.h"

#include <uv.h>

agent *fake_agent_new(uv_loop_t *loop);
/* Call once the loop has stopped (no streams left). */
void fake_agent_free(agent *a);
/* Safe to read from another thread. */
int fake_agent_cancels(agent *a);
int fake_agent_live_streams(agent *a);

#endif
