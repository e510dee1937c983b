/*
 * conn_io: what conn_io.c (the JS API) and conn_loop.c (reads, writes and events on the event loop) share.
 * See conn_io.c for why and how.
 */
#ifndef PODKIT_CONN_IO_H
#define PODKIT_CONN_IO_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

#define EV_DATA 1
#define EV_EOF 2
#define EV_ERROR 3
#define EV_DRAIN 4
/* A reply went direct to its client (conn_direct.c): a = its bytes, b = microseconds since (set at delivery). */
#define EV_COMPLETE 5
#define EV_FIELDS 4
/* A read takes at most this much, and is not tried with less room left in the arena (it waits for the next turn). */
#define READ_MAX (64 * 1024)
#define READ_MIN 4096

typedef struct io io_t;
typedef struct direct direct_t;

typedef struct conn {
  uv_poll_t poll; /* first member: the uv handle's address is the struct's */
  io_t *io;
  int fd;
  int32_t id;
  uint32_t gen;  /* which connection of those that had this id */
  direct_t *direct; /* an upstream whose replies may go direct (conn_direct.c); NULL otherwise */
  int reading;   /* JS has not paused it */
  int prompt;    /* want(): JS holds something behind this client's direct reply, so its COMPLETE is delivered at once */
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
  uint32_t urgent;    /* events other than COMPLETE in ev: they are delivered this turn */
  uint32_t completes; /* COMPLETE events in ev */
  uint32_t next_gen;
  int delivering;
  conn_t **conns; /* by id */
  uint32_t conns_cap;
  int32_t *free_ids, *later_ids; /* reusable now / after the next delivery */
  uint32_t nfree, nlater;
  int32_t *pend_ids; /* connections with a pend_kind */
  uint32_t npend;
  conn_t *closing; /* closed by JS, close callback not run yet */
};

/* Ask libuv for exactly the events this connection needs now. */
void cio_update(conn_t *c);
/* The check handle's callback: hands the turn's events to JS. */
void cio_on_check(uv_check_t *h);
/* A connection's handle is closed: close its socket and free it. */
void cio_on_closed(uv_handle_t *h);
/* Write iov[0, n) after anything queued; returns bytes still queued or a negative errno. */
int64_t cio_send_iov(conn_t *c, struct iovec *iov, int n);
/* realloc that leaves *p as it was when it fails (0, or -1). */
int cio_grow(void *p, size_t bytes);
/* Deliver now what is waiting (COMPLETEs), unless a delivery is under way. */
void cio_flush(io_t *io);
/* Hand bytes the connection read (arena[off, off+n)) to JS. */
void cio_push_data(conn_t *c, size_t off, size_t n);
/* A reply of upstream c went direct. */
void cio_push_complete(conn_t *c, int32_t bytes, int urgent);
/* A write failed: the connection is broken (JS closes it on the ERROR). */
void cio_fail(conn_t *c, int err);
/* conn_direct.c: the read arena[off, off+n) of an upstream, sorted into direct replies and JS's bytes. */
void cio_direct_read(conn_t *c, size_t off, size_t n);
int cio_direct_tags(conn_t *c, const int32_t *tags, uint32_t n);
int cio_direct_marker(conn_t *c, const void *answer, size_t len);
void cio_direct_free(conn_t *c);

#endif
