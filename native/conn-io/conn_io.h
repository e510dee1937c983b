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
/* Express commands completed since the last delivery (conn_express.c): JS takes their figures (a, b unused). */
#define EV_EXPRESS 6
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
  int told;      /* JS was told bytes stay queued: it waits for a DRAIN */
  /* express (conn_express.c), on a client connection: */
  int32_t x_w, x_r;        /* the upstream ids a plain SET / GET goes to; -1: JS's */
  uint32_t x_wgen, x_rgen, x_epoch;
  uint32_t x_out;          /* express replies owed */
  int32_t x_up;            /* the upstream they are owed on */
  uint32_t x_upgen;
  uint8_t *x_stash;        /* bytes read behind them that are JS's: handed over once they are in */
  size_t x_stash_len;
  int x_eof;               /* the client's EOF, held until then too */
  int x_hold;              /* not read meanwhile */
  int x_listed;            /* on io's release list */
  int64_t x_limit;         /* JS's client output limit: past it the client is closed (0: none) */
  int64_t x_maxbulk;       /* the longest argument an express command may have */
  uint32_t x_wroute, x_rroute; /* the routes JS counts a SET / GET under */
  int x_dirty;             /* on io's dirty list: bytes the express path queued, written in the check phase */
  uint32_t x_unsent;       /* on an upstream: express clients' reads with SETs queued since its last write (X_PIECE) */
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
  /* express (conn_express.c) */
  uint32_t x_epoch;       /* arming from an earlier epoch is void */
  int32_t *x_release;     /* clients whose express replies are all in, with a stash or EOF to hand over */
  uint32_t x_nrelease, x_release_cap;
  int32_t *x_dirty;       /* connections the express path queued bytes on this turn: written in the check phase */
  uint32_t x_ndirty, x_dirty_cap;
  napi_ref x_stats_ref, x_owed_ref;
  int32_t *x_owed;        /* by upstream id: express commands it owes (JS reads it) */
  uint32_t x_owed_cap;
  int32_t *x_stats;       /* per express reply: [upstream id | command << 20 | route << 24, µs, bytes in, bytes out] */
  uint32_t x_nstats, x_stats_cap;
  int x_stats_told;       /* an EV_EXPRESS is in the event array */
  uv_idle_t x_idle;       /* running while a release waits outside a poll phase: the loop does not block */
  /* the poll phase kept in C (conn_poll.c) */
  uv_prepare_t x_prep;
  conn_t **by_fd;         /* live connections by fd */
  uint32_t by_fd_cap;
  int x_delivered;        /* JS was handed events this turn */
  int x_quiet;            /* the last check phase handed JS nothing */
  uint64_t x_polled;      /* batches of events it received */
  uint64_t x_pieces;      /* express pieces written to an upstream before the turn's end (X_PIECE) */
};

/* The live connection with this id, or NULL. */
static inline conn_t *cio_conn(io_t *io, int32_t id) { return id >= 0 && (uint32_t)id < io->conns_cap ? io->conns[id] : NULL; }
/* The same connection a tag named (id and generation: ids are reused), or NULL when it is gone. */
static inline conn_t *cio_live(io_t *io, int32_t id, uint32_t gen) {
  conn_t *c = cio_conn(io, id);
  return c && c->gen == gen ? c : NULL;
}

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
/* conn_express.c */
int cio_express_read(conn_t *c, size_t off, size_t n);
int cio_express_eof(conn_t *c);
void cio_express_check(io_t *io);
void cio_express_done(conn_t *up, int32_t client, uint32_t gen, uint32_t t0, uint32_t meta, uint32_t bin, uint32_t bout);
void cio_express_forward(conn_t *up, int32_t client, uint32_t gen, const uint8_t *p, size_t n);
void cio_express_fail(conn_t *up, int32_t client, uint32_t gen, const uint8_t *text, size_t len, int started);
void cio_express_dirty(conn_t *u);
void cio_express_wake(io_t *io);
/* conn_direct.c, for the express path */
int cio_direct_usable(conn_t *u);
int cio_direct_seal(conn_t *u);
int cio_direct_push_express(conn_t *u, int32_t client, uint32_t gen, uint32_t meta, uint32_t bin);
void cio_direct_fail_express(conn_t *u);
int cio_direct_fail_text(conn_t *c, const void *text, size_t len);
/* express commands an upstream owes (its ring, and one in progress) */
uint32_t cio_direct_express(conn_t *c);
void cio_express_init(io_t *io, uv_loop_t *loop);
void cio_express_close(conn_t *c);
/* conn_poll.c */
int cio_poll_track(conn_t *c);
void cio_poll_untrack(conn_t *c);
void cio_poll_init(io_t *io, uv_loop_t *loop);
void cio_poll_start(io_t *io);
/* conn_loop.c: a poll event (UV_READABLE / UV_WRITABLE) as libuv would hand it over */
void cio_on_poll(conn_t *c, int events);
/* conn_loop.c: queue bytes (no write now); and the push of an event */
int cio_queue(conn_t *c, const void *p, size_t n);
void cio_push_event(io_t *io, int32_t id, int32_t kind, int32_t a, int32_t b);
int cio_flush_queue(conn_t *c);

#endif
