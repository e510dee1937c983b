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
 *   pause(id) / resume(id)   stop / restart reading
 *   end(id)                  shutdown(SHUT_WR) once the queue is sent
 *   close(id)                stop and close; the id is reused only after the next onEvents delivery
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#define EV_DATA 1
#define EV_EOF 2
#define EV_ERROR 3
#define EV_DRAIN 4
#define EV_FIELDS 4
/* A read takes at most this much, and is not tried with less room left in the arena (it waits for the next turn). */
#define READ_MAX (64 * 1024)
#define READ_MIN 4096
#define IOV_BATCH 64

typedef struct io io_t;

typedef struct conn {
  uv_poll_t poll; /* first member: the uv handle's address is the struct's */
  io_t *io;
  int fd;
  int32_t id;
  int reading;   /* JS has not paused it */
  int read_done; /* EOF or error seen */
  int shut;      /* end(): shutdown once the queue is sent */
  int watching;  /* the poll events asked for */
  int pend_kind; /* DRAIN or ERROR that found the event array full: delivered right after it is emptied */
  int32_t pend_a;
  char *q;       /* unsent bytes are q[qoff, qlen) */
  struct conn *closing_prev, *closing_next; /* while uv_close is pending (see cleanup) */
  size_t qoff, qlen, qcap;
} conn_t;

struct io {
  uv_check_t check;
  napi_env env;
  napi_ref on_events, arena_ref, events_ref;
  napi_async_context actx;
  uint8_t *arena;
  size_t arena_size, arena_used;
  int32_t *ev;
  uint32_t ev_cap, ev_count;
  conn_t **conns; /* by id */
  uint32_t conns_cap;
  int32_t *free_ids, *later_ids; /* reusable now / after the next delivery */
  uint32_t nfree, nlater;
  int32_t *pend_ids; /* connections with a pend_kind */
  uint32_t npend;
  conn_t *closing; /* closed by JS, close callback not run yet */
};

/* Each Node environment (the main thread, a worker) has its own io_t, kept as the addon's instance data. */
static io_t *io_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static void push_event(io_t *io, int32_t id, int32_t kind, int32_t a, int32_t b) {
  int32_t *e = io->ev + (size_t)io->ev_count * EV_FIELDS;
  e[0] = id;
  e[1] = kind;
  e[2] = a;
  e[3] = b;
  io->ev_count++;
}

static int room_for_event(io_t *io) { return io->ev_count < io->ev_cap; }

/* A DRAIN or ERROR is never dropped: without room it waits in the pending list (an ERROR replaces a DRAIN). */
static void emit(conn_t *c, int32_t kind, int32_t a) {
  io_t *io = c->io;
  if (c->pend_kind == 0 && room_for_event(io)) {
    push_event(io, c->id, kind, a, 0);
    return;
  }
  if (c->pend_kind == 0) io->pend_ids[io->npend++] = c->id;
  if (c->pend_kind != EV_ERROR) {
    c->pend_kind = kind;
    c->pend_a = a;
  }
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Ask libuv for exactly the events this connection needs now. */
static void update(conn_t *c) {
  int want = 0;
  if (c->reading && !c->read_done) want |= UV_READABLE;
  if (c->qlen > c->qoff) want |= UV_WRITABLE;
  if (want == c->watching) return;
  c->watching = want;
  if (want) uv_poll_start(&c->poll, want, on_poll);
  else uv_poll_stop(&c->poll);
}

static void read_some(conn_t *c) {
  io_t *io = c->io;
  size_t room = io->arena_size - io->arena_used;
  /* No room this turn: the socket stays readable (level-triggered) and is read next turn. */
  if (room < READ_MIN || !room_for_event(io)) return;
  if (room > READ_MAX) room = READ_MAX;
  ssize_t n;
  do n = read(c->fd, io->arena + io->arena_used, room);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    push_event(io, c->id, EV_DATA, (int32_t)io->arena_used, (int32_t)n);
    io->arena_used += (size_t)n;
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  c->read_done = 1;
  if (n == 0) push_event(io, c->id, EV_EOF, 0, 0);
  else emit(c, EV_ERROR, -errno);
  update(c);
}

/* Send what is queued; returns 0 or a negative errno. */
static int flush_queue(conn_t *c) {
  while (c->qoff < c->qlen) {
    ssize_t n = write(c->fd, c->q + c->qoff, c->qlen - c->qoff);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -errno;
    }
    c->qoff += (size_t)n;
  }
  c->qoff = c->qlen = 0;
  return 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  conn_t *c = (conn_t *)h;
  if (status < 0) {
    if (!c->read_done) {
      c->read_done = 1;
      emit(c, EV_ERROR, status);
    }
    c->qoff = c->qlen = 0;
    update(c);
    return;
  }
  if (events & UV_WRITABLE) {
    int err = flush_queue(c);
    if (err < 0) {
      /* The connection is broken: report it as a read error so JS closes it (queued bytes cannot be sent). */
      c->qoff = c->qlen = 0;
      if (!c->read_done) {
        c->read_done = 1;
        emit(c, EV_ERROR, err);
      }
    } else if (c->qlen == 0) {
      if (c->shut) shutdown(c->fd, SHUT_WR);
      emit(c, EV_DRAIN, 0);
    }
    update(c);
  }
  if ((events & UV_READABLE) && c->reading && !c->read_done) read_some(c);
}

/* After each delivery, ids closed before it may be used again (no event of theirs is pending any more). */
static void release_later_ids(io_t *io) {
  while (io->nlater > 0) io->free_ids[io->nfree++] = io->later_ids[--io->nlater];
}

/* Move waiting DRAIN/ERROR events into the (just emptied) event array, as far as it has room. */
static void take_pending(io_t *io) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < io->npend; i++) {
    int32_t id = io->pend_ids[i];
    conn_t *c = io->conns[id];
    if (!c || c->pend_kind == 0) continue; /* closed meanwhile */
    if (!room_for_event(io)) {
      io->pend_ids[kept++] = id;
      continue;
    }
    push_event(io, id, c->pend_kind, c->pend_a, 0);
    c->pend_kind = 0;
  }
  io->npend = kept;
}

static int deliver(io_t *io) {
  napi_env env = io->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  napi_value cb, recv, argv[1], result;
  napi_get_reference_value(env, io->on_events, &cb);
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  napi_create_uint32(env, io->ev_count, &argv[0]);
  napi_status st = napi_make_callback(env, io->actx, recv, cb, 1, argv, &result);
  io->ev_count = 0;
  io->arena_used = 0;
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
  return 0;
}

static void on_check(uv_check_t *h) {
  io_t *io = (io_t *)h;
  while (io->ev_count > 0 || io->npend > 0) {
    if (io->ev_count > 0 && deliver(io) < 0) break;
    take_pending(io);
    if (io->ev_count == 0) break;
  }
  release_later_ids(io);
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

static conn_t *conn_arg(napi_env env, napi_value v) {
  int32_t id;
  io_t *io = io_of(env);
  if (!io || napi_get_value_int32(env, v, &id) != napi_ok || id < 0 || (uint32_t)id >= io->conns_cap) return NULL;
  return io->conns[id];
}

/* ---- JS functions ---- */

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
  uv_check_start(&io->check, on_check);
  /* The check handle alone must not keep the process alive; the connections' polls do. */
  uv_unref((uv_handle_t *)&io->check);
  napi_set_instance_data(env, io, cleanup, NULL);
  return NULL;
}

/* realloc that leaves *p as it was when it fails (0, or -1). */
static int grow(void *p, size_t bytes) {
  void *q = realloc(*(void **)p, bytes);
  if (!q) return -1;
  *(void **)p = q;
  return 0;
}

/* A free id, or -1 without memory (arrays that did grow are kept: larger than conns_cap is harmless). */
static int32_t new_id(io_t *io) {
  if (io->nfree > 0) return io->free_ids[--io->nfree];
  uint32_t old = io->conns_cap, cap = old ? old * 2 : 64;
  if (grow(&io->conns, cap * sizeof *io->conns) || grow(&io->free_ids, cap * sizeof *io->free_ids) ||
      grow(&io->later_ids, cap * sizeof *io->later_ids) || grow(&io->pend_ids, cap * sizeof *io->pend_ids))
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
  c->id = id;
  io->conns[id] = c;
  update(c);
  return num(env, c->id);
}

static void on_closed(uv_handle_t *h) {
  conn_t *c = (conn_t *)h;
  if (c->closing_prev) c->closing_prev->closing_next = c->closing_next;
  else c->io->closing = c->closing_next;
  if (c->closing_next) c->closing_next->closing_prev = c->closing_prev;
  close(c->fd);
  free(c->q);
  free(c);
}

/* Queue iov[0, n) past `skip` bytes already sent; -ENOMEM when the queue cannot grow. */
static int enqueue(conn_t *c, const struct iovec *iov, int n, size_t skip) {
  size_t need = 0;
  for (int i = 0; i < n; i++) need += iov[i].iov_len;
  need -= skip;
  if (c->qoff > 0 && c->qoff == c->qlen) c->qoff = c->qlen = 0;
  if (c->qlen + need > c->qcap) {
    if (c->qoff > 0) {
      memmove(c->q, c->q + c->qoff, c->qlen - c->qoff);
      c->qlen -= c->qoff;
      c->qoff = 0;
    }
    if (c->qlen + need > c->qcap) {
      size_t cap = c->qcap ? c->qcap : 16384;
      while (cap < c->qlen + need) cap *= 2;
      if (grow(&c->q, cap)) return -ENOMEM;
      c->qcap = cap;
    }
  }
  for (int i = 0; i < n; i++) {
    size_t len = iov[i].iov_len;
    const char *p = iov[i].iov_base;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    memcpy(c->q + c->qlen, p + skip, len - skip);
    c->qlen += len - skip;
    skip = 0;
  }
  return 0;
}

/* Write iov[0, n) after anything queued; returns bytes still queued or a negative errno. */
static int64_t send_iov(conn_t *c, struct iovec *iov, int n) {
  if (c->qlen > c->qoff) {
    if (enqueue(c, iov, n, 0) < 0) return -ENOMEM;
    return (int64_t)(c->qlen - c->qoff);
  }
  ssize_t w;
  do w = n == 1 ? write(c->fd, iov[0].iov_base, iov[0].iov_len) : writev(c->fd, iov, n);
  while (w < 0 && errno == EINTR);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
    w = 0;
  }
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if ((size_t)w == total) return 0;
  if (enqueue(c, iov, n, (size_t)w) < 0) return -ENOMEM;
  update(c);
  return (int64_t)(c->qlen - c->qoff);
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  conn_t *c = argc == 2 ? conn_arg(env, argv[0]) : NULL;
  struct iovec iov;
  if (!c || napi_get_buffer_info(env, argv[1], &iov.iov_base, &iov.iov_len) != napi_ok) return throw_type(env, "conn_io.write(id, buffer)");
  return num(env, iov.iov_len == 0 ? (int64_t)(c->qlen - c->qoff) : send_iov(c, &iov, 1));
}

static napi_value js_writev(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  conn_t *c = argc == 2 ? conn_arg(env, argv[0]) : NULL;
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
    if (n > 0) r = send_iov(c, iov, n);
    if (r < 0) break;
  }
  return num(env, r);
}

static napi_value set_reading(napi_env env, napi_callback_info info, int on) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  conn_t *c = argc == 1 ? conn_arg(env, argv[0]) : NULL;
  if (!c) return throw_type(env, "conn_io: unknown connection id");
  c->reading = on;
  update(c);
  return NULL;
}

static napi_value js_pause(napi_env env, napi_callback_info info) { return set_reading(env, info, 0); }
static napi_value js_resume(napi_env env, napi_callback_info info) { return set_reading(env, info, 1); }

static napi_value js_end(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  conn_t *c = argc == 1 ? conn_arg(env, argv[0]) : NULL;
  if (!c) return throw_type(env, "conn_io: unknown connection id");
  c->shut = 1;
  if (c->qlen == c->qoff) shutdown(c->fd, SHUT_WR);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  conn_t *c = argc == 1 ? conn_arg(env, argv[0]) : NULL;
  if (!c) return NULL; /* closing twice is allowed */
  io_t *io = c->io;
  io->conns[c->id] = NULL;
  io->later_ids[io->nlater++] = c->id;
  c->closing_next = io->closing;
  if (io->closing) io->closing->closing_prev = c;
  io->closing = c;
  uv_close((uv_handle_t *)&c->poll, on_closed);
  return NULL;
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
  }
  for (conn_t *c = io->closing; c; c = c->closing_next) {
    c->poll.close_cb = NULL; /* a public field of uv_handle_t, read when the close completes */
    close(c->fd);
    free(c->q);
  }
  io->closing = NULL;
  uv_close((uv_handle_t *)&io->check, NULL);
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"writev", NULL, js_writev, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL},
      {"resume", NULL, js_resume, NULL, NULL, NULL, napi_default, NULL},
      {"end", NULL, js_end, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
