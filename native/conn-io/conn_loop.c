/*
 * conn_io, on the event loop: reads into the arena during the poll phase, the events handed to JS from the check
 * phase, and the per-connection write queues. See conn_io.c for why and for the JS API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_io.h"

static void push_event_as(io_t *io, int32_t id, int32_t kind, int32_t a, int32_t b, int urgent) {
  int32_t *e = io->ev + (size_t)io->ev_count * EV_FIELDS;
  e[0] = id;
  e[1] = kind;
  e[2] = a;
  e[3] = b;
  io->ev_count++;
  if (kind == EV_COMPLETE) io->completes++;
  if (urgent) io->urgent++;
}

static void push_event(io_t *io, int32_t id, int32_t kind, int32_t a, int32_t b) { push_event_as(io, id, kind, a, b, 1); }

void cio_push_event(io_t *io, int32_t id, int32_t kind, int32_t a, int32_t b) { push_event(io, id, kind, a, b); }

void cio_push_data(conn_t *c, size_t off, size_t n) { push_event(c->io, c->id, EV_DATA, (int32_t)off, (int32_t)n); }

/*
 * A COMPLETE that is not urgent waits for the next delivery: no entry into JS for it alone. No timer delivers it
 * either (a timer armed per reply costs more system time than the entry it saves); what reads state that waits on
 * it asks first (cio_flush).
 */
void cio_push_complete(conn_t *c, int32_t bytes, int urgent) {
  /* The time it went, in µs (low 31 bits): turned into an age at delivery. */
  push_event_as(c->io, c->id, EV_COMPLETE, bytes, (int32_t)((uv_hrtime() / 1000) & 0x7fffffff), urgent);
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

void cio_update(conn_t *c) {
  int want = 0;
  if (c->reading && !c->read_done && !c->x_hold) want |= UV_READABLE;
  if (c->qlen > c->qoff) want |= UV_WRITABLE;
  if (want == c->watching) return;
  c->watching = want;
  if (want) uv_poll_start(&c->poll, want, on_poll);
  else uv_poll_stop(&c->poll);
}

/* One read; 1 when it read bytes, 0 when the arena had no room this turn (not tried), -1 otherwise. */
static int read_some(conn_t *c) {
  io_t *io = c->io;
  size_t room = io->arena_size - io->arena_used;
  /* No room this turn: the socket stays readable (level-triggered) and is read next turn. */
  if (room < READ_MIN || !room_for_event(io)) return 0;
  if (room > READ_MAX) room = READ_MAX;
  ssize_t n;
  do n = read(c->fd, io->arena + io->arena_used, room);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    size_t off = io->arena_used;
    uint32_t before = io->ev_count;
    io->arena_used += (size_t)n;
    if (c->direct) cio_direct_read(c, off, (size_t)n);
    else if (!cio_express_read(c, off, (size_t)n)) push_event(io, c->id, EV_DATA, (int32_t)off, (int32_t)n);
    /* Nothing of this read was handed to JS (it went on in C, copied where it waits): the arena has it back. */
    int data = 0;
    for (uint32_t i = before; i < io->ev_count && !data; i++) data = io->ev[(size_t)i * EV_FIELDS + 1] == EV_DATA;
    if (!data) io->arena_used = off;
    return 1;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
  c->read_done = 1;
  if (n == 0 && cio_express_eof(c)) {
    cio_update(c); /* told once the express replies it is owed are written */
    return -1;
  }
  if (n == 0) push_event(io, c->id, EV_EOF, 0, 0);
  else emit(c, EV_ERROR, -errno);
  cio_update(c);
  return -1;
}

/* Send what is queued; returns 0 or a negative errno. */
int cio_flush_queue(conn_t *c) {
  /* A batch of several express clients' commands ends with its marker (failed: the connection is). */
  if (c->direct && cio_direct_seal(c) < 0) return -ENOMEM;
  c->x_unsent = 0;
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

void cio_fail(conn_t *c, int err) {
  c->qoff = c->qlen = 0;
  if (!c->read_done) {
    c->read_done = 1;
    emit(c, EV_ERROR, err);
  }
  cio_update(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  conn_t *c = (conn_t *)h;
  if (status < 0) {
    c->watching = 0; /* libuv stopped the poll to report it */
    /* What the peer sent before the error is still queued and is read first, as a stream read would: a server that
     * closes with bytes of ours unread (Redis after a protocol error) resets the connection, and its last replies
     * would otherwise be lost. The read after them reports the error itself. Without room this turn, the poll
     * starts again and the error comes back next turn. */
    for (int k = 0; k < 64 && c->reading && !c->read_done && !c->x_hold; k++) {
      int r = read_some(c);
      if (r == 0) {
        cio_update(c);
        return;
      }
      if (r < 0) break;
    }
    if (!c->read_done) {
      /* libuv reports any POLLERR as UV_EBADF: the socket's own error says what happened (ECONNRESET, ...). */
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) status = -soerr;
      c->read_done = 1;
      emit(c, EV_ERROR, status);
    }
    c->qoff = c->qlen = 0;
    cio_update(c);
    return;
  }
  if (events & UV_WRITABLE) {
    int err = cio_flush_queue(c);
    if (err < 0) {
      /* The connection is broken: report it as a read error so JS closes it (queued bytes cannot be sent). */
      c->qoff = c->qlen = 0;
      if (!c->read_done) {
        c->read_done = 1;
        emit(c, EV_ERROR, err);
      }
    } else if (c->qlen == 0 && !(c->shut && c->x_out > 0)) {
      /* (A client ended while express replies are owed: shut and told once they are written, conn_express.c.) */
      if (c->shut) shutdown(c->fd, SHUT_WR);
      c->told = 0;
      emit(c, EV_DRAIN, 0);
    }
    cio_update(c);
  }
  if ((events & UV_READABLE) && c->reading && !c->read_done) read_some(c);
}

void cio_on_poll(conn_t *c, int events) { on_poll(&c->poll, 0, events); }

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
  /* napi_make_callback needs an object receiver: the events buffer (held already) costs a handle, the global a
   * context lookup per turn. onEvents does not use `this`. */
  napi_get_reference_value(env, io->events_ref, &recv);
  if (io->completes > 0) {
    int32_t now = (int32_t)((uv_hrtime() / 1000) & 0x7fffffff);
    for (uint32_t i = 0; i < io->ev_count; i++) {
      int32_t *e = io->ev + (size_t)i * EV_FIELDS;
      if (e[1] == EV_COMPLETE) e[3] = (now - e[3]) & 0x7fffffff;
    }
  }
  napi_create_uint32(env, io->ev_count, &argv[0]);
  io->delivering = 1;
  io->x_delivered = 1;
  napi_status st = napi_make_callback(env, io->actx, recv, cb, 1, argv, &result);
  io->delivering = 0;
  io->ev_count = 0;
  io->urgent = io->completes = 0;
  io->arena_used = 0;
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
  return 0;
}

/* Deliver while there is something to deliver now (`force`: COMPLETEs alone too); else keep COMPLETEs for later. */
static void run(io_t *io, int force) {
  while (io->urgent > 0 || io->npend > 0 || (force && io->ev_count > 0)) {
    if (io->ev_count > 0 && deliver(io) < 0) break;
    take_pending(io);
    if (io->ev_count == 0) break;
  }
  if (io->ev_count == 0) release_later_ids(io); /* a waiting COMPLETE may name a closed id */
}

void cio_on_check(uv_check_t *h) {
  io_t *io = (io_t *)h;
  cio_express_check(io);
  run(io, 0);
  if (io->x_nrelease > 0) {
    /* Stashes the arena had no room for before the delivery emptied it. */
    cio_express_check(io);
    run(io, 0);
  }
  io->x_quiet = !io->x_delivered;
  io->x_delivered = 0;
}

void cio_flush(io_t *io) {
  if (!io->delivering) run(io, 1);
}

int cio_grow(void *p, size_t bytes) {
  void *q = realloc(*(void **)p, bytes);
  if (!q) return -1;
  *(void **)p = q;
  return 0;
}

void cio_on_closed(uv_handle_t *h) {
  conn_t *c = (conn_t *)h;
  if (c->closing_prev) c->closing_prev->closing_next = c->closing_next;
  else c->io->closing = c->closing_next;
  if (c->closing_next) c->closing_next->closing_prev = c->closing_prev;
  close(c->fd);
  free(c->q);
  cio_direct_free(c);
  cio_express_close(c);
  free(c);
}

/* Queue iov[0, n) past `skip` bytes already sent; -ENOMEM when the queue cannot grow. */
static int enqueue(conn_t *c, const struct iovec *iov, int n, size_t skip) {
  size_t need = 0;
  for (int i = 0; i < n; i++) need += iov[i].iov_len;
  need -= skip;
  if (c->qlen + need > c->qcap) {
    if (c->qoff > 0) {
      memmove(c->q, c->q + c->qoff, c->qlen - c->qoff);
      c->qlen -= c->qoff;
      c->qoff = 0;
    }
    if (c->qlen + need > c->qcap) {
      size_t cap = c->qcap ? c->qcap : 16384;
      while (cap < c->qlen + need) cap *= 2;
      if (cio_grow(&c->q, cap)) return -ENOMEM;
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

int cio_queue(conn_t *c, const void *p, size_t n) {
  struct iovec iov = {(void *)p, n};
  if (enqueue(c, &iov, 1, 0) < 0) return -ENOMEM;
  cio_express_dirty(c);
  return 0;
}

int64_t cio_send_iov(conn_t *c, struct iovec *iov, int n) {
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
  cio_update(c);
  return (int64_t)(c->qlen - c->qoff);
}
