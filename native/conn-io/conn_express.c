/*
 * conn_io, the express path: a client's plain GET and SET are forwarded in C, and their replies come back in C
 * (conn_direct.c), so a client that sends only those never enters JS.
 *
 * Why: at one request per round trip, each request's entry into JS (the check phase's callback, V8's entry, the
 * microtask checkpoint) costs as much user CPU as the whole of a C proxy's work for it; with the reply side alone
 * in C (conn_direct.c) one entry per request was left, and the CPU per request stayed above nutcracker's.
 *
 * The contract with JS: JS arms a client (`express`) only while it owes that client nothing, has none of its bytes
 * buffered, and its state is the plain one (normal mode, authenticated, replies on, no transaction); it names the
 * shared upstream connection a SET goes to now and the one a GET goes to now (its own routing decided both). C then
 * takes from each read of that client the whole GET/SET commands it finds at the start, in their order, appends
 * them to the upstream's write queue (written once per turn, in the check phase, so that many clients' commands go
 * in one write) and tags each in the upstream's reply order. At the first byte that is not such a command C
 * disarms the client: the rest goes to JS — at once when no express reply is owed, else it waits (the client is
 * not read meanwhile) until the last one is written, so JS's replies never overtake C's; an EOF waits the same way.
 * Every express reply owed is on one upstream connection, whose order is the order of the commands; several clients'
 * in one write are checked by the reply guard in C (conn_guard.c). JS re-arms the
 * client once it is idle again. Anything that changes routing (a reload) moves the epoch, which voids every arming.
 *
 * The figures JS would have counted (the command, its route, its latency, the bytes) go into a ring JS drains
 * before metrics are read, before an upstream's id is closed, and every X_STATS_BATCH of them (EV_EXPRESS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn_io.h"

/* Express replies one client may owe at once (as the JS path's maxPending bounds it), and bulk length digits. */
#define X_MAX_OUT 1024
#define X_MAX_DIGITS 9
/* A client with this much of its replies unread gets no more express commands (JS's backpressure decides). */
#define X_MAX_QUEUED (256 * 1024)
/* Express figures JS is asked to take at once (EV_EXPRESS), at most. JS spends ~60 ns on each (traffic counters,
 * the command count, the latency histogram) and serves no client meanwhile: asked at half of its 16K array, that was
 * 0.5 ms every ~80 ms at 100k requests/s, which every client waiting then saw — the ambassador's p99 at -c 50 sat
 * 15-20 % over nutcracker's. In batches of 512 it is ~30 µs each time, for the same CPU in all (benchmarks.md, 19). */
#define X_STATS_BATCH 512

enum { X_GET = 0, X_SET = 1 };

/* A decimal length at p[0, n) up to CRLF: digits only, no leading zero but "0"; the value, or -1. *used = bytes with CRLF. */
static int64_t x_len(const uint8_t *p, size_t n, size_t *used) {
  size_t i = 0;
  int64_t v = 0;
  while (i < n && i <= X_MAX_DIGITS && p[i] >= '0' && p[i] <= '9') v = v * 10 + (p[i++] - '0');
  if (i == 0 || i > X_MAX_DIGITS || (i > 1 && p[0] == '0') || i + 1 >= n || p[i] != '\r' || p[i + 1] != '\n') return -1;
  *used = i + 2;
  return v;
}

/*
 * Whether p[0, n) starts with a whole GET key or SET key value [options] in RESP (no inline form), each argument at
 * most max_bulk long; its length in *len and which in *cmd. Anything else, or a command not whole here: -1.
 */
static int x_command(const uint8_t *p, size_t n, int64_t max_bulk, size_t *len, int *cmd) {
  size_t i, used;
  if (n < 4 || p[0] != '*') return -1;
  int64_t argc = x_len(p + 1, n - 1, &used);
  if (argc < 2 || argc > 16) return -1;
  i = 1 + used;
  for (int64_t k = 0; k < argc; k++) {
    if (i >= n || p[i] != '$') return -1;
    int64_t l = x_len(p + i + 1, n - i - 1, &used);
    if (l < 0 || l > max_bulk) return -1;
    i += 1 + used;
    if ((size_t)l + 2 > n - i) return -1;
    if (k == 0) {
      if (l != 3) return -1;
      uint8_t a = p[i] | 0x20, b = p[i + 1] | 0x20, c = p[i + 2] | 0x20;
      if (b != 'e' || c != 't' || (a != 'g' && a != 's')) return -1;
      *cmd = a == 'g' ? X_GET : X_SET;
    }
    i += (size_t)l;
    if (p[i] != '\r' || p[i + 1] != '\n') return -1;
    i += 2;
  }
  /* Arity as Redis checks it is Redis's to answer; these two only so that a GET is never sent as a read with 3. */
  if ((*cmd == X_GET && argc != 2) || (*cmd == X_SET && argc < 3)) return -1;
  *len = i;
  return 0;
}

static int armed(const conn_t *c) { return c->x_epoch == c->io->x_epoch && (c->x_w >= 0 || c->x_r >= 0); }

/* The live upstream (id, gen) that can take client c's express command now, or NULL. */
static conn_t *usable(conn_t *c, int32_t id, uint32_t gen) {
  conn_t *u = cio_live(c->io, id, gen);
  if (!u || u->read_done || u->shut) return NULL;
  /* Every express reply a client is owed is on one connection, whose order is its commands'. */
  if (c->x_out > 0 && (c->x_up != id || c->x_upgen != gen)) return NULL;
  return cio_direct_usable(u) ? u : NULL;
}

/* Does nothing: an active idle handle only makes the loop's next poll not block. It is stopped in the check phase
 * (cio_express_check), not here — stopped here, before the poll works out its timeout, it would not keep it from
 * blocking. */
static void idle_cb(uv_idle_t *h) { (void)h; }

static void list_release(conn_t *c) {
  io_t *io = c->io;
  if (c->x_listed) return;
  if (io->x_nrelease == io->x_release_cap) {
    uint32_t cap = io->x_release_cap ? io->x_release_cap * 2 : 64;
    if (cio_grow(&io->x_release, cap * sizeof *io->x_release)) return; /* stays held: out of memory */
    io->x_release_cap = cap;
  }
  io->x_release[io->x_nrelease++] = c->id;
  c->x_listed = 1;
  cio_express_wake(io);
}

/* An upstream's queue is written once X_PIECE express clients' SETs are on it, not only at the turn's end. Redis
 * answers the commands of one read together, after running them all, and a SET is the longest to answer (run, then
 * fed to each replica): at -c 50 a turn reads some twenty clients, and written in one piece their SETs came back
 * only when the master had run all twenty, while the proxy, done with its turn, had nothing left to do. Written six
 * clients at a time, the master runs the first ones while the proxy reads the rest, and their replies are back,
 * checked by a marker of their own (conn_guard.c), a piece earlier: SET at -c 50 -P 1 went 6-10 % faster on this
 * machine (docs/benchmarks.md, step 20). Each piece costs one more write, one more read of the node's replies and
 * one more marker: GETs, answered in a fraction of a SET's time, went 3-7 % slower in pieces (on two replicas), and
 * fewer than six clients per piece cost SETs more than they gave. A single client's command is still written at the
 * turn's end, in one write as before. */
#define X_PIECE 6

/* The piece is out: its marker after it (cio_flush_queue seals), and what the kernel did not take waits as ever. */
static void write_piece(conn_t *u) {
  u->io->x_pieces++;
  int err = cio_flush_queue(u);
  if (err < 0) cio_fail(u, err);
  else cio_update(u);
}

int cio_express_read(conn_t *c, size_t off, size_t n) {
  io_t *io = c->io;
  int on = armed(c);
  if (!on && c->x_out == 0) return 0;
  const uint8_t *p = io->arena + off;
  size_t pos = 0;
  conn_t *to = NULL; /* the commands taken, p[0, pos), go to `to` in one piece */
  int sets = 0;      /* some of them SETs (X_PIECE) */
  while (on && pos < n) {
    size_t len;
    int cmd;
    if (x_command(p + pos, n - pos, c->x_maxbulk, &len, &cmd) < 0) break;
    int32_t uid = cmd == X_GET ? c->x_r : c->x_w;
    uint32_t ugen = cmd == X_GET ? c->x_rgen : c->x_wgen;
    conn_t *up = usable(c, uid, ugen);
    if (!up || c->x_out >= X_MAX_OUT || c->qlen - c->qoff > X_MAX_QUEUED)
      break;
    uint32_t meta = (uint32_t)cmd | (uint32_t)(cmd == X_GET ? c->x_rroute : c->x_wroute) << 8;
    if (cio_direct_push_express(up, c->id, c->gen, meta, (uint32_t)len) < 0) break;
    to = up;
    sets |= cmd == X_SET;
    c->x_out++;
    c->x_up = uid;
    c->x_upgen = ugen;
    pos += len;
  }
  if (to && cio_queue(to, p, pos) < 0) cio_fail(to, -ENOMEM); /* its express replies are failed as it closes */
  else if (sets && ++to->x_unsent >= X_PIECE) write_piece(to);
  if (pos == n) return 1;
  /* The rest is JS's, and JS arms the client again once it is idle. */
  c->x_w = c->x_r = -1;
  if (c->x_out == 0) {
    cio_push_data(c, off + pos, n - pos);
    return 1;
  }
  uint8_t *s = malloc(n - pos);
  if (!s) {
    cio_fail(c, -ENOMEM);
    return 1;
  }
  memcpy(s, p + pos, n - pos);
  c->x_stash = s;
  c->x_stash_len = n - pos;
  c->x_hold = 1;
  cio_update(c);
  return 1;
}

int cio_express_eof(conn_t *c) {
  if (c->x_out == 0) return 0;
  c->x_eof = 1;
  return 1;
}

void cio_express_forward(conn_t *up, int32_t client, uint32_t gen, const uint8_t *p, size_t n) {
  conn_t *cl = cio_live(up->io, client, gen);
  if (!cl) return; /* gone: dropped, as JS drops a closed client's */
  /* Queued, and written with the client's other replies of this turn in the check phase (one write, not one each). */
  if (cio_queue(cl, p, n) < 0) cio_fail(cl, -ENOMEM);
  else if (cl->x_limit > 0 && (int64_t)(cl->qlen - cl->qoff) > cl->x_limit) cio_fail(cl, -ENOBUFS); /* as the JS path: Redis's output buffer limit */
}

static uint32_t stats_batch(const io_t *io) { return io->x_stats_cap / 2 < X_STATS_BATCH ? io->x_stats_cap / 2 : X_STATS_BATCH; }

static void owed_one_less(io_t *io, int32_t client, uint32_t gen) {
  conn_t *cl = cio_live(io, client, gen);
  if (!cl || cl->x_out == 0) return;
  if (--cl->x_out == 0 && (cl->x_stash || cl->x_eof || cl->x_hold || cl->shut)) list_release(cl);
}

void cio_express_done(conn_t *up, int32_t client, uint32_t gen, uint32_t t0, uint32_t meta, uint32_t bin, uint32_t bout) {
  io_t *io = up->io;
  if (io->x_stats && io->x_nstats < io->x_stats_cap) {
    int32_t *e = io->x_stats + (size_t)io->x_nstats * 4;
    /* [upstream id | command << 20 | route << 24, µs, bytes in, bytes out] (conn.ts takeExpress) */
    e[0] = (int32_t)(((uint32_t)up->id & 0xfffff) | (meta & 0xf) << 20 | ((meta >> 8) & 0x7f) << 24);
    e[1] = (int32_t)(((uint32_t)(uv_hrtime() / 1000) - t0) & 0x7fffffff);
    e[2] = (int32_t)bin;
    e[3] = (int32_t)bout;
    /* A batch: the check phase asks JS to take them (EV_EXPRESS); past full, within one turn, figures are not kept. */
    if (++io->x_nstats == stats_batch(io)) cio_express_wake(io);
  }
  owed_one_less(io, client, gen);
}

void cio_express_fail(conn_t *up, int32_t client, uint32_t gen, const uint8_t *text, size_t len, int started) {
  io_t *io = up->io;
  conn_t *cl = cio_live(io, client, gen);
  if (!cl) return;
  /* Half a reply is out: the client's stream cannot be mended. Without a text (the upstream's replies are not to
   * be trusted): closed too. */
  if (started || !text) cio_fail(cl, -EPIPE);
  else cio_express_forward(up, client, gen, text, len);
  owed_one_less(io, client, gen);
}

/* Hand over what waited behind a client's express replies; 0 when the arena has no room for it this time. */
static int release(io_t *io, conn_t *c) {
  if (c->x_out > 0) return 1; /* armed again and owing: released when those are in */
  if (c->x_stash) {
    if (io->arena_size - io->arena_used < c->x_stash_len || io->ev_cap - io->ev_count < 3) return 0;
    memcpy(io->arena + io->arena_used, c->x_stash, c->x_stash_len);
    cio_push_event(io, c->id, EV_DATA, (int32_t)io->arena_used, (int32_t)c->x_stash_len);
    io->arena_used += c->x_stash_len;
    free(c->x_stash);
    c->x_stash = NULL;
  }
  if (io->ev_cap - io->ev_count < 2) return 0;
  if (c->x_eof) {
    cio_push_event(io, c->id, EV_EOF, 0, 0);
    c->x_eof = 0;
  }
  if (c->shut && c->qlen == c->qoff) {
    shutdown(c->fd, SHUT_WR);
    cio_push_event(io, c->id, EV_DRAIN, 0, 0);
  }
  c->x_hold = 0;
  cio_update(c);
  return 1;
}

void cio_express_check(io_t *io) {
  uv_idle_stop(&io->x_idle);
  for (uint32_t i = 0; i < io->x_ndirty; i++) {
    conn_t *u = cio_conn(io, io->x_dirty[i]);
    if (!u || !u->x_dirty) continue;
    u->x_dirty = 0;
    int err = cio_flush_queue(u);
    if (err < 0) cio_fail(u, err);
    else if (u->qlen == u->qoff && u->told) {
      u->told = 0;
      cio_push_event(io, u->id, EV_DRAIN, 0, 0);
    } else cio_update(u);
  }
  io->x_ndirty = 0;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < io->x_nrelease; i++) {
    int32_t id = io->x_release[i];
    conn_t *c = cio_conn(io, id);
    if (!c || !c->x_listed) continue;
    if (release(io, c)) c->x_listed = 0;
    else io->x_release[kept++] = id;
  }
  io->x_nrelease = kept;
  if (io->x_nstats >= stats_batch(io) && !io->x_stats_told && io->ev_count < io->ev_cap) {
    cio_push_event(io, -1, EV_EXPRESS, 0, 0);
    io->x_stats_told = 1;
  }
}

/* Bytes the express path queued on u (commands on an upstream, replies to a client): written in this turn's check phase. */
void cio_express_dirty(conn_t *u) {
  io_t *io = u->io;
  if (u->x_dirty) return;
  if (io->x_ndirty == io->x_dirty_cap) {
    uint32_t cap = io->x_dirty_cap ? io->x_dirty_cap * 2 : 64;
    if (cio_grow(&io->x_dirty, cap * sizeof *io->x_dirty)) {
      cio_update(u); /* written when writable instead */
      return;
    }
    io->x_dirty_cap = cap;
  }
  io->x_dirty[io->x_ndirty++] = u->id;
  u->x_dirty = 1;
}

/* Work queued outside a poll phase (a close from JS): the loop must reach its check phase without blocking. */
void cio_express_wake(io_t *io) { uv_idle_start(&io->x_idle, idle_cb); }

void cio_express_init(io_t *io, uv_loop_t *loop) {
  uv_idle_init(loop, &io->x_idle);
  uv_unref((uv_handle_t *)&io->x_idle);
}

void cio_express_close(conn_t *c) {
  free(c->x_stash);
  c->x_stash = NULL;
}
