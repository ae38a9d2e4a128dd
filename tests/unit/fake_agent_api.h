/* fake_agent_api.h - a stand-in for the agent behind api/agent_api.h, for the api tests.
 *
 * Pods: default/mypod (uid "uid-mypod"; containers mycontainer, forever, flood, broken, big,
 * waiting) and kube-system/dns (uid "uid-dns"; container dns).
 * Logs of mycontainer: a line echoing the options, then "line 1".."line 3" one per timer tick,
 * plus "follow 1".."follow 3" with follow; then done. forever: a line per tick, never done.
 * flood: 64 KiB per tick, never done (it ignores a write's > 0). broken: one line, then done
 * with an error. waiting: refused with EINVAL. big: FAKE_BIG_LOG_BYTES of fake_big_log_byte()
 * in FAKE_BIG_CHUNK writes, one per tick, then done; a write returning > 0 pauses it until
 * agent_api_stream_resume.
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
/* Back-pressure seen by log streams: writes that returned > 0, resumes, streams paused now,
 * and resumes of a stream that was not paused or had ended (always 0 for a correct api). */
int fake_agent_pauses(agent *a);
int fake_agent_resumes(agent *a);
int fake_agent_paused(agent *a);
int fake_agent_bad_resumes(agent *a);

#define FAKE_BIG_LOG_BYTES (12 * 1024 * 1024)
#define FAKE_BIG_CHUNK     (32 * 1024)
/* Byte i of the "big" log: 100-byte lines of letters and digits. */
char fake_big_log_byte(size_t i);

#endif
