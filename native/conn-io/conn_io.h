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
#define EV_FIELDS 4
/* A read takes at most this much, and is not tried with less room left in the arena (it waits for the next turn). */
#define READ_MAX (64 * 1024)
#define READ_MIN 4096

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

#endif
