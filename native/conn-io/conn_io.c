/*
 * conn_io: TCP connections read and written outside Node's stream machinery, with one JS call per event-loop turn.
 *
 * Why: a proxy at one request per client round trip reads once per request. Through net.Socket each read is its
 * own native-to-JS callback (MakeCallback, the onStreamRead wrapper, a microtask checkpoint), which on the Redis
 * ambassador costs about as much user CPU as the parsing and routing of the request itself. Here each connection is
 * a uv_poll_t on the Node event loop: a readable connection is read in C during the poll phase into one arena, the
 * reads are recorded as events, and a check handle (which runs right after the poll phase) hands the whole turn's
 * events to JS in one call. Writes are write(2)/writev(2) at once; what the kernel does not take is copied into a
 * per-connection queue and sent when the socket is writable again.
 *
 * JS API (plain Node-API; one instance per Node environment):
 *   init(arena: ArrayBuffer, events: ArrayBuffer, onEvents(count))
 *     events is an Int32Array of records [id, kind, a, b]:
 *       DATA 1: arena[a, a+b) holds bytes read (valid only during the call: copy what you keep)
 *       EOF 2: the peer closed its side; no more reads
 *       ERROR 3: a = negative errno (read or poll failure); no more reads
 *       DRAIN 4: the write queue has emptied
 *   adopt(fd) -> id       dup(2)s fd (the caller closes its own), non-blocking, TCP_NODELAY, reading
 *   write(id, buf) / writev(id, [buf...]) -> bytes still queued (0: all sent), or a negative errno
 *   writeRange(id, buf, from, to)  write buf[from, to), the same result (the caller may reuse buf at once)
 *   pause(id) / resume(id)   stop / restart reading
 *   end(id)                  shutdown(SHUT_WR) once the queue is sent
 *   close(id)                stop and close; the id is reused only after the next onEvents delivery
 *   idleMetricsOff() -> bool  turn off libuv's idle-time metrics on this loop (see idle_metrics_off)
 *   tags(id, Int32Array, n) / marker(id, answer)   the direct path of an upstream's replies (conn_direct.c)
 *     COMPLETE 5 [upstream id, 5, bytes, µs since]: one of its replies went direct to its client
 *   queued(id) -> bytes still queued;  undelivered() -> events in the array not yet handed over
 *   want(id)  client id's next direct reply is told at once;  flush()  deliver waiting COMPLETEs now
 *   schedBatch() -> 0 or a negative errno   the calling thread's policy becomes SCHED_BATCH
 *   pollStart()  the wait for events is made in C (conn_poll.c); only with the idle-time metrics off
 *   polled() -> batches of events that wait received
 *   pieces() -> express pieces written to an upstream before the turn's end (conn_express.c, X_PIECE)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_io.h"

#define IOV_BATCH 64

/* Each Node environment (the main thread, a worker) has its own io_t, kept as the addon's instance data. */
static io_t *io_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

/* ---- argument helpers ---- */

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value num(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

/* The live connection a call's first argument names, or NULL; argv receives the call's first `want` arguments. */
static conn_t *conn_call(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  int32_t id;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  io_t *io = io_of(env);
  if (argc < want || !io || napi_get_value_int32(env, argv[0], &id) != napi_ok || id < 0 || (uint32_t)id >= io->conns_cap) return NULL;
  return io->conns[id];
}

/*
 * Node turns on libuv's idle-time metrics (UV_METRICS_IDLE_TIME, behind performance.eventLoopUtilization()). With
 * them on, each poll phase first polls with a zero timeout and polls again to block only when that found nothing
 * (uv__io_poll): at one request per round trip, one more epoll_pwait in most turns. libuv has no call to turn the
 * option off. It is a bit of `flags`, the first field (unsigned int) of the loop's internal fields (uv-common.h,
 * libuv 1.39 and later; no other bit of that word is used). The word is cleared only when it proves to be that
 * flag here: it reads exactly UV_METRICS_IDLE_TIME, and once cleared, the public uv_loop_configure() sets it back
 * to exactly that; otherwise it is left as it was found. Returns 1 when cleared. Afterwards idle-time metrics
 * (eventLoopUtilization) count the whole time as busy; nothing else in libuv or Node reads the flag.
 */
static int idle_metrics_off(uv_loop_t *loop) {
  unsigned int v = uv_version();
  if ((v >> 16) != 1 || ((v >> 8) & 0xff) < 39 || loop->internal_fields == NULL) return 0;
  unsigned int *flags = loop->internal_fields;
  unsigned int was = *flags;
  if (was != UV_METRICS_IDLE_TIME) return 0;
  *flags = 0;
  if (uv_loop_configure(loop, UV_METRICS_IDLE_TIME) != 0 || *flags != UV_METRICS_IDLE_TIME) {
    *flags = was;
    return 0;
  }
  *flags = 0;
  return 1;
}

/* ---- JS functions ---- */

static napi_value js_idle_metrics_off(napi_env env, napi_callback_info info) {
  (void)info;
  uv_loop_t *loop;
  napi_value r;
  napi_get_boolean(env, napi_get_uv_event_loop(env, &loop) == napi_ok && idle_metrics_off(loop), &r);
  return r;
}

/*
 * The calling thread's scheduling policy (the event loop's: --sched-policy). SCHED_BATCH keeps the weight of
 * SCHED_OTHER; its wake-ups only do not preempt the task on the core, so an app that shares the core finishes its
 * turn (reads every reply, sends its next commands) before the proxy runs, instead of being cut off at each one.
 */
static napi_value js_sched_batch(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  struct sched_param sp = {0};
  napi_create_int32(env, sched_setscheduler(0, SCHED_BATCH, &sp) == 0 ? 0 : -errno, &r);
  return r;
}

static void cleanup(napi_env env, void *data, void *hint);

static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (io_of(env)) return throw_type(env, "conn_io: init() was already called");
  void *arena, *ev;
  size_t arena_size, ev_size;
  napi_valuetype t;
  if (argc < 3 || napi_get_arraybuffer_info(env, argv[0], &arena, &arena_size) != napi_ok ||
      napi_get_arraybuffer_info(env, argv[1], &ev, &ev_size) != napi_ok || napi_typeof(env, argv[2], &t) != napi_ok ||
      t != napi_function)
    return throw_type(env, "conn_io.init(arena: ArrayBuffer, events: ArrayBuffer, onEvents: function)");
  if (arena_size < READ_MAX || ev_size < 16 * EV_FIELDS * sizeof(int32_t)) return throw_type(env, "conn_io.init: buffers too small");
  io_t *io = calloc(1, sizeof *io);
  if (!io) {
    napi_throw_error(env, NULL, "conn_io.init: out of memory");
    return NULL;
  }
  io->env = env;
  io->arena = arena;
  io->arena_size = arena_size;
  io->ev = ev;
  io->ev_cap = (uint32_t)(ev_size / (EV_FIELDS * sizeof(int32_t)));
  napi_create_reference(env, argv[0], 1, &io->arena_ref);
  napi_create_reference(env, argv[1], 1, &io->events_ref);
  napi_create_reference(env, argv[2], 1, &io->on_events);
  napi_value name;
  napi_create_string_utf8(env, "PODKIT_CONN_IO", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &io->actx);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_check_init(loop, &io->check);
  uv_check_start(&io->check, cio_on_check);
  /* The check handle alone must not keep the process alive; the connections' polls do. */
  uv_unref((uv_handle_t *)&io->check);
  cio_express_init(io, loop);
  cio_poll_init(io, loop);
  napi_set_instance_data(env, io, cleanup, NULL);
  return NULL;
}

/* A free id, or -1 without memory (arrays that did grow are kept: larger than conns_cap is harmless). */
static int32_t new_id(io_t *io) {
  if (io->nfree > 0) return io->free_ids[--io->nfree];
  uint32_t old = io->conns_cap, cap = old ? old * 2 : 64;
  if (cio_grow(&io->conns, cap * sizeof *io->conns) || cio_grow(&io->free_ids, cap * sizeof *io->free_ids) ||
      cio_grow(&io->later_ids, cap * sizeof *io->later_ids) || cio_grow(&io->pend_ids, cap * sizeof *io->pend_ids))
    return -1;
  for (uint32_t i = old; i < cap; i++) io->conns[i] = NULL;
  for (uint32_t i = cap; i > old + 1; i--) io->free_ids[io->nfree++] = (int32_t)(i - 1);
  io->conns_cap = cap;
  return (int32_t)old;
}

static napi_value js_adopt(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  io_t *io = io_of(env);
  if (!io) return throw_type(env, "conn_io: init() first");
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return throw_type(env, "conn_io.adopt(fd: number)");
  int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (nfd < 0) return num(env, -errno);
  int fl = fcntl(nfd, F_GETFL);
  if (fl < 0 || fcntl(nfd, F_SETFL, fl | O_NONBLOCK) < 0) {
    int err = -errno;
    close(nfd);
    return num(env, err);
  }
  int one = 1;
  setsockopt(nfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on a non-TCP socket */
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  conn_t *c = calloc(1, sizeof *c);
  int32_t id = c ? new_id(io) : -1;
  if (id < 0) {
    free(c);
    close(nfd);
    return num(env, -ENOMEM);
  }
  int err = uv_poll_init(loop, &c->poll, nfd);
  if (err < 0) {
    io->free_ids[io->nfree++] = id;
    free(c);
    close(nfd);
    return num(env, err);
  }
  c->io = io;
  c->fd = nfd;
  c->reading = 1;
  c->x_w = c->x_r = -1;
  c->id = id;
  c->gen = ++io->next_gen;
  io->conns[id] = c;
  cio_poll_track(c); /* without memory, its events end the poll kept in C (conn_poll.c): slower, not wrong */
  cio_update(c);
  return num(env, c->id);
}

/* A write's result for JS: bytes still queued (JS then waits for a DRAIN, which the express path must give too). */
static napi_value queued_result(napi_env env, conn_t *c, int64_t r) {
  if (r > 0) c->told = 1;
  return num(env, r);
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  conn_t *c = conn_call(env, info, 2, argv);
  struct iovec iov;
  if (!c || napi_get_buffer_info(env, argv[1], &iov.iov_base, &iov.iov_len) != napi_ok) return throw_type(env, "conn_io.write(id, buffer)");
  return queued_result(env, c, iov.iov_len == 0 ? (int64_t)(c->qlen - c->qoff) : cio_send_iov(c, &iov, 1));
}

static napi_value js_write_range(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  conn_t *c = conn_call(env, info, 4, argv);
  struct iovec iov;
  int64_t from, to;
  if (!c || napi_get_buffer_info(env, argv[1], &iov.iov_base, &iov.iov_len) != napi_ok ||
      napi_get_value_int64(env, argv[2], &from) != napi_ok || napi_get_value_int64(env, argv[3], &to) != napi_ok ||
      from < 0 || to < from || (uint64_t)to > iov.iov_len)
    return throw_type(env, "conn_io.writeRange(id, buffer, from, to) with 0 <= from <= to <= buffer.length");
  iov.iov_base = (char *)iov.iov_base + from;
  iov.iov_len = (size_t)(to - from);
  return queued_result(env, c, iov.iov_len == 0 ? (int64_t)(c->qlen - c->qoff) : cio_send_iov(c, &iov, 1));
}

static napi_value js_writev(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  conn_t *c = conn_call(env, info, 2, argv);
  uint32_t len;
  if (!c || napi_get_array_length(env, argv[1], &len) != napi_ok) return throw_type(env, "conn_io.writev(id, buffers)");
  struct iovec iov[IOV_BATCH];
  int64_t r = 0;
  uint32_t i = 0;
  while (i < len) {
    int n = 0;
    for (; i < len && n < IOV_BATCH; i++) {
      napi_value el;
      napi_get_element(env, argv[1], i, &el);
      if (napi_get_buffer_info(env, el, &iov[n].iov_base, &iov[n].iov_len) != napi_ok) return throw_type(env, "conn_io.writev: not a Buffer");
      if (iov[n].iov_len > 0) n++;
    }
    if (n > 0) r = cio_send_iov(c, iov, n);
    if (r < 0) break;
  }
  return queued_result(env, c, r);
}

static napi_value set_reading(napi_env env, napi_callback_info info, int on) {
  napi_value argv[1];
  conn_t *c = conn_call(env, info, 1, argv);
  if (!c) return throw_type(env, "conn_io: unknown connection id");
  c->reading = on;
  cio_update(c);
  return NULL;
}

static napi_value js_pause(napi_env env, napi_callback_info info) { return set_reading(env, info, 0); }
static napi_value js_resume(napi_env env, napi_callback_info info) { return set_reading(env, info, 1); }

static napi_value js_end(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  conn_t *c = conn_call(env, info, 1, argv);
  if (!c) return throw_type(env, "conn_io: unknown connection id");
  c->shut = 1;
  if (c->qlen == c->qoff && c->x_out == 0) shutdown(c->fd, SHUT_WR);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  conn_t *c = conn_call(env, info, 1, argv);
  if (!c) return NULL; /* closing twice is allowed */
  io_t *io = c->io;
  if (c->direct && cio_direct_express(c) > 0) {
    cio_direct_fail_express(c);
    cio_express_wake(io);
  }
  io->conns[c->id] = NULL;
  cio_poll_untrack(c);
  io->later_ids[io->nlater++] = c->id;
  c->closing_next = io->closing;
  if (io->closing) io->closing->closing_prev = c;
  io->closing = c;
  uv_close((uv_handle_t *)&c->poll, cio_on_closed);
  return NULL;
}

/* tags(id, Int32Array, n): the tags of the next n commands written on upstream id (conn_direct.c). */
static napi_value js_tags(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  conn_t *c = conn_call(env, info, 3, argv);
  napi_typedarray_type type;
  size_t len;
  void *data;
  uint32_t n;
  if (!c || napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      napi_get_value_uint32(env, argv[2], &n) != napi_ok || n > len)
    return throw_type(env, "conn_io.tags(id, tags: Int32Array, n) with n <= tags.length");
  return num(env, cio_direct_tags(c, data, n));
}

/* A call (id, bytes: Buffer) that hands a connection a copy of the bytes: set(c, data, len)'s result. */
static napi_value bytes_call(napi_env env, napi_callback_info info, int (*set)(conn_t *, const void *, size_t), const char *usage) {
  napi_value argv[2];
  conn_t *c = conn_call(env, info, 2, argv);
  void *data;
  size_t len;
  if (!c || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) return throw_type(env, usage);
  return num(env, set(c, data, len));
}

/* marker(id, answer): the reply guard's marker answer on upstream id: any other reply in its slot turns direct off. */
static napi_value js_marker(napi_env env, napi_callback_info info) {
  return bytes_call(env, info, cio_direct_marker, "conn_io.marker(id, answer: Buffer)");
}

/* queued(id): bytes written and not yet taken by the kernel (direct replies included). */
static napi_value js_queued(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  conn_t *c = conn_call(env, info, 1, argv);
  return num(env, c ? (int64_t)(c->qlen - c->qoff) + c->x_out : 0);
}

/* want(id): JS holds a reply behind client id's direct one: its COMPLETE is to come at once, not with the next delivery. */
static napi_value js_want(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  conn_t *c = conn_call(env, info, 1, argv);
  if (c) c->prompt = 1;
  return NULL;
}

/* flush(): deliver the waiting COMPLETEs now (not during a delivery: those are being delivered). */
static napi_value js_flush(napi_env env, napi_callback_info info) {
  (void)info;
  io_t *io = io_of(env);
  if (io) cio_flush(io);
  return NULL;
}

/* undelivered(): events in the array, which JS may read (those past the delivery it is in, or waiting COMPLETEs). */
static napi_value js_undelivered(napi_env env, napi_callback_info info) {
  (void)info;
  io_t *io = io_of(env);
  return num(env, io ? io->ev_count : 0);
}

/*
 * The environment is going away (a worker ending). Its loop still runs the close of every handle, but a worker's
 * addon may be unloaded before that: no close callback may point into this file. So every connection's socket is
 * closed here, the handles are closed without callbacks (those already closing lose theirs), and the few structs
 * libuv still links until then are left allocated.
 */
static void cleanup(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  io_t *io = data;
  for (uint32_t i = 0; i < io->conns_cap; i++) {
    conn_t *c = io->conns[i];
    if (!c) continue;
    io->conns[i] = NULL;
    uv_close((uv_handle_t *)&c->poll, NULL);
    close(c->fd);
    free(c->q);
    cio_direct_free(c);
  }
  for (conn_t *c = io->closing; c; c = c->closing_next) {
    c->poll.close_cb = NULL; /* a public field of uv_handle_t, read when the close completes */
    close(c->fd);
    free(c->q);
    cio_direct_free(c);
  }
  io->closing = NULL;
  uv_close((uv_handle_t *)&io->check, NULL);
  uv_close((uv_handle_t *)&io->x_idle, NULL);
  uv_close((uv_handle_t *)&io->x_prep, NULL);
}

/* expressInit(stats, owed): where the express path records its commands' figures, and each upstream's express commands owed (conn_express.c). */
static napi_value js_express_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  io_t *io = io_of(env);
  void *data, *owed;
  size_t len, olen;
  if (!io || io->x_stats_ref || argc < 2 || napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok || len < 64 ||
      napi_get_arraybuffer_info(env, argv[1], &owed, &olen) != napi_ok)
    return throw_type(env, "conn_io.expressInit(stats: ArrayBuffer, owed: ArrayBuffer), once");
  napi_create_reference(env, argv[0], 1, &io->x_stats_ref);
  napi_create_reference(env, argv[1], 1, &io->x_owed_ref);
  io->x_owed = owed;
  io->x_owed_cap = (uint32_t)(olen / sizeof(int32_t));
  io->x_stats = data;
  io->x_stats_cap = (uint32_t)(len / (4 * sizeof(int32_t)));
  io->x_nstats = 0;
  return NULL;
}

/*
 * express(id, write, writeRoute, read, readRoute, outputLimit, maxBulk): client id's plain SETs go to upstream
 * `write`, its GETs to `read` (-1: JS's), counted under those routes, until it sends anything else or the epoch
 * moves. Ignored while bytes of the client wait for JS.
 */
static napi_value js_express(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  conn_t *c = conn_call(env, info, 7, argv);
  int32_t v[6];
  int64_t limit;
  if (!c) return throw_type(env, "conn_io.express(id, write, writeRoute, read, readRoute, outputLimit, maxBulk)");
  for (int i = 0; i < 4; i++)
    if (napi_get_value_int32(env, argv[1 + i], &v[i]) != napi_ok) return throw_type(env, "conn_io.express: not a number");
  if (napi_get_value_int64(env, argv[5], &limit) != napi_ok || napi_get_value_int32(env, argv[6], &v[4]) != napi_ok) return throw_type(env, "conn_io.express: not a number");
  io_t *io = c->io;
  if (c->x_stash || c->x_eof || c->x_hold || c->read_done) return NULL;
  conn_t *w = cio_conn(io, v[0]);
  conn_t *r = cio_conn(io, v[2]);
  c->x_w = w ? v[0] : -1;
  c->x_wgen = w ? w->gen : 0;
  c->x_wroute = (uint32_t)v[1] & 0xff;
  c->x_r = r ? v[2] : -1;
  c->x_rgen = r ? r->gen : 0;
  c->x_rroute = (uint32_t)v[3] & 0xff;
  c->x_limit = limit;
  c->x_maxbulk = v[4];
  c->x_epoch = io->x_epoch;
  return NULL;
}

/* expressEpoch(): every client armed so far is not any more (routing changed). */
static napi_value js_express_epoch(napi_env env, napi_callback_info info) {
  (void)info;
  io_t *io = io_of(env);
  if (io) io->x_epoch++;
  return NULL;
}

/* expressTake() -> n: the figures recorded since the last take are stats[0, 4n); the next are recorded from 0. */
static napi_value js_express_take(napi_env env, napi_callback_info info) {
  (void)info;
  io_t *io = io_of(env);
  if (!io) return num(env, 0);
  uint32_t n = io->x_nstats;
  io->x_nstats = 0;
  io->x_stats_told = 0;
  return num(env, n);
}

/* expressOwed(id): express replies a client is owed, or an upstream owes. */
static napi_value js_express_owed(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  conn_t *c = conn_call(env, info, 1, argv);
  return num(env, c ? (int64_t)c->x_out + cio_direct_express(c) : 0);
}

/* pollStart(): the wait for events is made in C from now on (conn_poll.c); JS calls it only with the idle-time metrics off. */
static napi_value js_poll_start(napi_env env, napi_callback_info info) {
  (void)info;
  io_t *io = io_of(env);
  if (io) cio_poll_start(io);
  return NULL;
}

/* polled(): batches of events the poll kept in C received (conn_poll.c); 0 while it is off. */
static napi_value js_polled(napi_env env, napi_callback_info info) {
  (void)info;
  io_t *io = io_of(env);
  return num(env, io ? (int64_t)io->x_polled : 0);
}

/* pieces(): express pieces written to an upstream before the turn's end (conn_express.c, X_PIECE). */
static napi_value js_pieces(napi_env env, napi_callback_info info) {
  (void)info;
  io_t *io = io_of(env);
  return num(env, io ? (int64_t)io->x_pieces : 0);
}

/* expressText(id, reply): what a client gets for an express command still owed when upstream id closes. */
static napi_value js_express_text(napi_env env, napi_callback_info info) {
  return bytes_call(env, info, cio_direct_fail_text, "conn_io.expressText(id, reply: Buffer)");
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"writeRange", NULL, js_write_range, NULL, NULL, NULL, napi_default, NULL},
      {"writev", NULL, js_writev, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL},
      {"resume", NULL, js_resume, NULL, NULL, NULL, napi_default, NULL},
      {"end", NULL, js_end, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"expressInit", NULL, js_express_init, NULL, NULL, NULL, napi_default, NULL},
      {"express", NULL, js_express, NULL, NULL, NULL, napi_default, NULL},
      {"expressEpoch", NULL, js_express_epoch, NULL, NULL, NULL, napi_default, NULL},
      {"expressTake", NULL, js_express_take, NULL, NULL, NULL, napi_default, NULL},
      {"expressOwed", NULL, js_express_owed, NULL, NULL, NULL, napi_default, NULL},
      {"expressText", NULL, js_express_text, NULL, NULL, NULL, napi_default, NULL},
      {"idleMetricsOff", NULL, js_idle_metrics_off, NULL, NULL, NULL, napi_default, NULL},
      {"tags", NULL, js_tags, NULL, NULL, NULL, napi_default, NULL},
      {"marker", NULL, js_marker, NULL, NULL, NULL, napi_default, NULL},
      {"queued", NULL, js_queued, NULL, NULL, NULL, napi_default, NULL},
      {"undelivered", NULL, js_undelivered, NULL, NULL, NULL, napi_default, NULL},
      {"want", NULL, js_want, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
      {"schedBatch", NULL, js_sched_batch, NULL, NULL, NULL, napi_default, NULL},
      {"pollStart", NULL, js_poll_start, NULL, NULL, NULL, napi_default, NULL},
      {"polled", NULL, js_polled, NULL, NULL, NULL, napi_default, NULL},
      {"pieces", NULL, js_pieces, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
