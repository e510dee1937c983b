/*
 * conn_io, the poll phase kept in C: while only conn_io's connections have work and JS has nothing to be told,
 * the loop's wait for events is made here, in a prepare handle, and their events are handled without going round
 * the rest of Node's loop.
 *
 * Why: with the express path (conn_express.c) a single client's GET or SET enters no JS, yet each request still
 * took two turns of Node's loop (the client's command, then the node's reply), and each turn ran Node's own check
 * phase (a handle scope, a new object, an async context and a microtask checkpoint for native immediates), the
 * timers, idle and prepare phases and the time updates. At one request per round trip, leaving those out saves
 * 2-9 % of the proxy's CPU per request (docs/benchmarks.md, step 18).
 *
 * How, with libuv's public API: the prepare phase runs right before libuv would block in its poll, and
 * uv_backend_timeout() is what libuv would wait for — 0 when anything else is due: a timer, an idle handle (a
 * pending setImmediate), a closing handle, a pending callback, or a change to the polled set not yet applied. If
 * it is not 0 and the last turn handed JS nothing, this waits on the loop's own epoll set (uv_backend_fd). libuv
 * registers every fd there level-triggered (uv__io_start admits no other flag) with the fd as the event's data,
 * which is what lets an event be told apart: one on a conn_io socket is handed to on_poll as libuv would, and each
 * batch's writes follow it (cio_express_check), as in the check phase. Anything else ends the wait here: an event
 * on another fd (still ready, so libuv's poll sees it at once), an error or hang-up (libuv reports those its own
 * way), a change to the set or another handle due (uv_backend_timeout), or the timeout. Events JS must be told are
 * delivered before it ends (cio_on_check), so that no other callback sees what C wrote before JS knows of it.
 *
 * Started by JS (pollStart, src/redis-ambassador/io/conn.ts) only with libuv's idle-time metrics off (conn_io.c,
 * idle_metrics_off): a wait made here is not counted as idle. `PODKIT_CONN_POLL=off` leaves the wait to libuv.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/epoll.h>

#include "conn_io.h"

#define X_EVENTS 256

/* Connections by fd: which events of the loop's set are conn_io's. */
int cio_poll_track(conn_t *c) {
  io_t *io = c->io;
  if ((uint32_t)c->fd >= io->by_fd_cap) {
    uint32_t cap = io->by_fd_cap ? io->by_fd_cap : 64;
    while (cap <= (uint32_t)c->fd) cap *= 2;
    if (cio_grow(&io->by_fd, cap * sizeof *io->by_fd)) return -1;
    memset(io->by_fd + io->by_fd_cap, 0, (cap - io->by_fd_cap) * sizeof *io->by_fd);
    io->by_fd_cap = cap;
  }
  io->by_fd[c->fd] = c;
  return 0;
}

void cio_poll_untrack(conn_t *c) {
  io_t *io = c->io;
  if ((uint32_t)c->fd < io->by_fd_cap && io->by_fd[c->fd] == c) io->by_fd[c->fd] = NULL;
}

/* JS has something to be told, or the check phase work to do: the loop must get there. */
static int js_due(io_t *io) { return io->urgent > 0 || io->npend > 0 || io->x_nrelease > 0 || io->x_ndirty > 0; }

/* Hand each event of the batch on as libuv would; 0 when one is not conn_io's to handle (another fd's, an error or
 * a hang-up, which libuv reports in its own way). */
static int handle(io_t *io, const struct epoll_event *evs, int n) {
  int ours = 1;
  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    conn_t *c = fd >= 0 && (uint32_t)fd < io->by_fd_cap ? io->by_fd[fd] : NULL;
    uint32_t e = evs[i].events;
    if (!c || (e & (EPOLLERR | EPOLLHUP))) {
      ours = 0;
      continue;
    }
    /* As libuv masks an event by what is asked now (an earlier event of the batch may have changed it). */
    int ev = (((e & EPOLLIN) ? UV_READABLE : 0) | ((e & EPOLLOUT) ? UV_WRITABLE : 0)) & c->watching;
    if (ev) cio_on_poll(c, ev);
  }
  return ours;
}

static void on_prepare(uv_prepare_t *h) {
  io_t *io = h->data;
  if (!io->x_quiet || js_due(io)) return;
  uv_loop_t *loop = h->loop;
  /* What libuv's poll would wait for now; 0 also while a connection's change of events waits for libuv to apply it
   * (uv_poll_start takes the fd out of the set at once and puts it back in libuv's next poll). */
  int timeout = uv_backend_timeout(loop);
  if (timeout == 0) return;
  int epfd = uv_backend_fd(loop);
  struct epoll_event evs[X_EVENTS];
  for (;;) {
    int n = epoll_wait(epfd, evs, X_EVENTS, timeout);
    /* As libuv's poll does after each wait: the timers' time, and the timeout counted from it. */
    uv_update_time(loop);
    if (n <= 0) break; /* the timeout (timers due) or a signal: libuv's turn */
    io->x_polled++;
    int ours = handle(io, evs, n);
    cio_express_check(io);
    if (js_due(io)) {
      /* JS is told now, before libuv's poll runs anything else: as after libuv's own poll phase, what C wrote in
       * this batch (a failed command's error, say) is never seen by another callback before JS knows of it. */
      cio_on_check(&io->check);
      break;
    }
    if (!ours || (timeout = uv_backend_timeout(loop)) == 0) break;
  }
}

void cio_poll_init(io_t *io, uv_loop_t *loop) {
  uv_prepare_init(loop, &io->x_prep);
  io->x_prep.data = io;
  uv_unref((uv_handle_t *)&io->x_prep);
}

/* Only with libuv's idle-time metrics off (idle_metrics_off): with them on, a wait made here would not count as idle. */
void cio_poll_start(io_t *io) { uv_prepare_start(&io->x_prep, on_prepare); }
