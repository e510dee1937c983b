/*
 * conn_io, the direct path: replies a shared upstream connection reads are forwarded to their client in C when JS
 * said, as it wrote the command, that nothing needs doing with the reply but writing it to that client.
 *
 * Why: at one request per round trip every request cost two entries into JS, one for the client's command and one
 * for the node's reply. The reply's needs no JS when the client has no other reply owed (nothing to order it
 * behind), the reply is not an error (errors may be retried: -READONLY) and no reply guard marker is in flight (a
 * guard holds replies until its marker vouches for them). JS learns afterwards, from a COMPLETE event per reply that
 * rides along with the next delivery (at once when JS waits on it: see forward), and does its bookkeeping then.
 *
 * How the two stay in step: JS hands C a tag per command, in the order its bytes are written (the order the node
 * answers them): the client connection's id, -1 (the reply is for JS) or -2 (the guard's marker). C scans every
 * reply's extent (the rules of core/resp/scanner.ts's scanValue: an attribute and its value are one reply; a push
 * takes no tag, as JS skips pushes on shared connections) and pops one tag per reply. A reply goes direct only when
 * it is complete within one read, its client is the connection tagged (same generation: ids are reused) and has
 * nothing queued; everything else reaches JS as DATA, whole replies in their order, so JS's FIFO of commands
 * meets each reply where it expects. Anything C's scan does not accept (a type it does not know, a bad length, a
 * marker's slot holding anything but the marker's answer) turns the direct path off for that connection: every
 * byte from the start of that reply on goes to JS, which decides as it always has — unless express commands or C's
 * own markers are in flight (JS's FIFO does not have them): then the connection is failed (EPROTO) and everything
 * on it answered as a lost connection's. Express commands of several clients in one write end with C's marker
 * (conn_guard.c), and express replies with any marker behind them are held until it is answered in place.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "conn_guard.h"
#include "conn_io.h"

enum { S_TYPE, S_LINE, S_LF, S_BULK, S_BULK_CR, S_BULK_LF };
enum { CUR_JS, CUR_DIRECT, CUR_MARKER, CUR_EXPRESS, CUR_XMARK };
/* A command tag: JS's marker, and C's own (conn_guard.c). */
#define TAG_MARKER (-2)
#define TAG_XMARK (-3)

/* A command's tag: whose reply it is (a client id, -1 JS's, -2 the marker) and, for an express one, its figures. */
typedef struct {
  int32_t id;
  uint32_t gen;
  uint32_t express; /* 1 + meta: an express command (conn_express.c); 0 otherwise */
  uint32_t t0;      /* µs when it was queued */
  uint32_t bin;     /* its bytes */
} tag_t;

/* As scanValue: the largest element count of an aggregate, and a header line's longest (MAX_INLINE). */
#define MAX_COUNT 0x7fffffffLL
#define MAX_LINE (64 * 1024)
/* A reply bigger than one read is never sent direct: its bulk length fits easily. */
#define MAX_BULK (1LL << 40)

typedef struct {
  int64_t owed; /* values the current reply still owes; 0 between replies */
  int mode;
  uint8_t type;
  int neg, ndig, bad;
  uint8_t c0; /* the line's first byte */
  int64_t num;
  int64_t bulk_left;
  size_t line;
} rscan_t;

struct direct {
  rscan_t s;
  tag_t *tags;
  uint32_t head, count, cap;
  uint32_t express;       /* express tags in the ring */
  uint8_t *fail;          /* what an express command's client gets when the connection closes first */
  size_t fail_len;
  uint32_t markers; /* JS's marker tags not yet reached */
  uint32_t xmarkers; /* C's own marker tags not yet reached */
  int need_mark;     /* the express commands since the last marker are several clients': one goes before the next bytes */
  int suspect;       /* a marker's slot held a stall error: every express batch is marked until one is answered in place */
  int32_t seg_id;    /* since the last marker: the client of the last express command, how many there are, their bytes */
  uint32_t seg_gen, seg_n;
  size_t seg_bytes;
  int cur_held;      /* the express reply in progress is held: a marker behind it vouches for it */
  size_t cur_hoff;
  xguard_t g;
  int off;
  int cur;                /* what the reply in progress is */
  tag_t cur_tag;          /* the tag of the reply in progress; for an express one, bytes sent on so far: */
  uint32_t cur_sent;
  uint8_t *answer;        /* JS's marker's only good reply (NULL: no reply guard) */
  size_t answer_len;
};

static int is_len_type(uint8_t t) { return t == '$' || t == '!' || t == '='; }
static int is_agg_type(uint8_t t) { return t == '*' || t == '~' || t == '>' || t == '%' || t == '|'; }
static int is_line_type(uint8_t t) { return t == '+' || t == '-' || t == ':' || t == ',' || t == '(' || t == '_' || t == '#'; }

/* A header line ended: 0 to go on, 1 when it completed the reply, -1 when it breaks the protocol. */
static int end_header(rscan_t *s) {
  uint8_t t = s->type;
  s->owed--;
  if (is_line_type(t)) {
    if (t == '_' && s->line != 0) return -1;
    if (t == '#' && (s->line != 1 || (s->c0 != 't' && s->c0 != 'f'))) return -1;
  } else {
    /* As parseIntAt: digits after an optional '-', no leading zero, no "-0". */
    if (s->bad || s->ndig == 0 || (s->ndig > 1 && s->c0 == '0') || (s->neg && s->num == 0)) return -1;
    int64_t n = s->neg ? -s->num : s->num;
    if (s->neg && !(n == -1 && (t == '$' || t == '*'))) return -1;
    if (is_len_type(t) && n >= 0) {
      if (n > MAX_BULK) return -1;
      s->bulk_left = n;
      s->mode = S_BULK;
      s->owed++; /* the bulk's body is still owed; counted back when it ends */
      return 0;
    }
    if (is_agg_type(t) && n > 0) {
      if (n > MAX_COUNT) return -1;
      s->owed += t == '%' ? 2 * n : t == '|' ? 2 * n + 1 : n;
    }
  }
  s->mode = S_TYPE;
  return s->owed == 0 ? 1 : 0;
}

/*
 * Scan p[0, n) on from where the reply left off; *used = bytes taken. Returns 1 when the reply ended there, 0 when
 * all of p was taken and it goes on, -1 when the bytes break the protocol.
 */
static int rscan_feed(rscan_t *s, const uint8_t *p, size_t n, size_t *used) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = p[i];
    switch (s->mode) {
      case S_TYPE:
        if (!is_len_type(b) && !is_agg_type(b) && !is_line_type(b)) return -1;
        s->type = b;
        s->neg = s->ndig = s->bad = 0;
        s->num = 0;
        s->line = 0;
        s->mode = S_LINE;
        i++;
        break;
      case S_LINE:
        if (b == '\r') {
          s->mode = S_LF;
          i++;
          break;
        }
        if (++s->line > MAX_LINE) return -1;
        if (is_line_type(s->type)) {
          if (s->line == 1) s->c0 = b;
        } else if (b == '-' && s->line == 1) {
          s->neg = 1;
        } else if (b >= '0' && b <= '9' && s->ndig < 12) {
          if (s->ndig++ == 0) s->c0 = b;
          s->num = s->num * 10 + (b - '0');
        } else {
          s->bad = 1; /* not a digit, or past what any length can be */
        }
        i++;
        break;
      case S_LF: {
        if (b != '\n') return -1;
        i++;
        int r = end_header(s);
        if (r != 0) {
          *used = i;
          return r;
        }
        break;
      }
      case S_BULK: {
        size_t take = n - i;
        if ((int64_t)take > s->bulk_left) take = (size_t)s->bulk_left;
        s->bulk_left -= (int64_t)take;
        i += take;
        if (s->bulk_left == 0) s->mode = S_BULK_CR;
        break;
      }
      case S_BULK_CR:
        if (b != '\r') return -1;
        s->mode = S_BULK_LF;
        i++;
        break;
      case S_BULK_LF:
        if (b != '\n') return -1;
        i++;
        s->mode = S_TYPE;
        if (--s->owed == 0) {
          *used = i;
          return 1;
        }
        break;
    }
  }
  *used = n;
  return 0;
}

void cio_direct_free(conn_t *c) {
  direct_t *d = c->direct;
  if (!d) return;
  free(d->tags);
  free(d->answer);
  free(d->fail);
  xg_free(&d->g);
  free(d);
  c->direct = NULL;
}

static direct_t *direct_of(conn_t *c) {
  if (!c->direct) c->direct = calloc(1, sizeof(direct_t));
  return c->direct;
}

/* Room for n more tags; -ENOMEM turns the path off. */
static int room(direct_t *d, uint32_t n) {
  if (d->count + n <= d->cap) return 0;
  uint32_t cap = d->cap ? d->cap : 64;
  while (cap < d->count + n) cap *= 2;
  tag_t *t = malloc(cap * sizeof *t);
  if (!t) return -ENOMEM;
  for (uint32_t i = 0; i < d->count; i++) t[i] = d->tags[(d->head + i) % d->cap];
  free(d->tags);
  d->tags = t;
  d->head = 0;
  d->cap = cap;
  return 0;
}

static void push_tag(direct_t *d, tag_t t) {
  d->tags[(d->head + d->count) % d->cap] = t;
  d->count++;
}

static void fail_express(conn_t *c, direct_t *d, const uint8_t *text, size_t len);

/* An express reply is being read (its tag already taken from the ring). */
static int express_in_progress(const direct_t *d) { return d->cur == CUR_EXPRESS && d->s.owed > 0; }

/* C has commands of its own on c (express ones, held replies, its markers): JS's FIFO cannot read past them. */
static int c_owes(conn_t *c, const direct_t *d) { return cio_direct_express(c) > 0 || d->xmarkers > 0 || d->cur == CUR_XMARK; }

/* The connection cannot go on with C's commands on it: each is answered as a lost connection's, and it closes. */
static void fail_mine(conn_t *c, direct_t *d, int err) {
  fail_express(c, d, d->fail, d->fail_len);
  cio_fail(c, err);
}

/* Tags for the commands about to be written, in order; -ENOMEM turns the path off (everything goes to JS). */
int cio_direct_tags(conn_t *c, const int32_t *tags, uint32_t n) {
  direct_t *d = direct_of(c);
  if (!d) return -ENOMEM;
  if (d->off) return 0;
  /* Express commands not yet behind a marker would share a write with JS's commands, which JS may not mark (it
   * decided when it queued them): C's marker goes before JS's bytes. */
  if (d->answer != NULL && d->seg_n > 0 && (d->express > 0 || express_in_progress(d))) d->need_mark = 1;
  if (cio_direct_seal(c) < 0) return -ENOMEM;
  if (room(d, n) < 0) {
    d->off = 1;
    if (c_owes(c, d)) fail_mine(c, d, -ENOMEM); /* C's commands would go unmatched in JS's FIFO */
    return -ENOMEM;
  }
  io_t *io = c->io;
  for (uint32_t i = 0; i < n; i++) {
    int32_t t = tags[i];
    uint32_t gen = 0;
    if (t >= 0) {
      conn_t *cl = cio_conn(io, t);
      if (cl) gen = cl->gen;
      else t = -1;
    }
    if (t == TAG_MARKER) d->markers++;
    push_tag(d, (tag_t){t, gen, 0, 0, 0});
  }
  return 0;
}

/* *dst (of *dst_len bytes) becomes a copy of src[0, len). */
static int set_copy(uint8_t **dst, size_t *dst_len, const void *src, size_t len) {
  uint8_t *a = malloc(len ? len : 1);
  if (!a) return -ENOMEM;
  memcpy(a, src, len);
  free(*dst);
  *dst = a;
  *dst_len = len;
  return 0;
}

int cio_direct_marker(conn_t *c, const void *answer, size_t len) {
  direct_t *d = direct_of(c);
  return d ? set_copy(&d->answer, &d->answer_len, answer, len) : -ENOMEM;
}

/* A reply starts with byte `first`: what it is, its tag taken (a push takes none). */
static void begin_reply(io_t *io, direct_t *d, uint8_t first) {
  d->cur = CUR_JS;
  if (first == '>') return;
  if (d->count == 0) {
    /* A reply nothing was sent for: JS closes the connection for it. */
    d->off = 1;
    return;
  }
  tag_t tag = d->tags[d->head];
  int32_t t = tag.id;
  d->head = (d->head + 1) % d->cap;
  d->count--;
  d->cur_tag = tag;
  if (tag.express) {
    d->express--;
    d->cur = CUR_EXPRESS;
    d->cur_sent = 0;
    /* Any marker behind it vouches for it (one was written behind every batch of several clients' commands). */
    d->cur_held = d->answer != NULL && d->markers + d->xmarkers > 0;
    d->cur_hoff = d->g.len;
    return;
  }
  if (t == TAG_MARKER || t == TAG_XMARK) {
    if (t == TAG_MARKER) d->markers--;
    else d->xmarkers--;
    d->cur = t == TAG_MARKER ? CUR_MARKER : CUR_XMARK;
    xg_slot_begin(&d->g);
    return;
  }
  /* Room for its COMPLETE, the JS bytes before it and after it. */
  if (t < 0 || d->markers > 0 || first == '-' || first == '!' || first == '|' || io->ev_cap - io->ev_count < 3) return;
  d->cur = CUR_DIRECT;
}

/* A marker's reply is whole: 0 when it vouched for the replies held before it (they went out), -1 when not. */
static int marker_end(conn_t *c, direct_t *d) {
  int js = d->cur == CUR_MARKER;
  int v = js ? xg_verdict(&d->g, d->answer, d->answer_len) : xg_verdict(&d->g, d->g.answer, d->g.answer_len);
  if (v == XG_BAD) return -1;
  /* A stall error may have been an extra reply: marked until a marker's own reply is read in place (guard.ts). */
  d->suspect = v == XG_STALLED;
  xg_release(c, &d->g);
  return 0;
}

/* A C marker goes before the next bytes written on u when its express commands since the last are several clients';
 * -ENOMEM when it could not be, and the connection is failed. */
int cio_direct_seal(conn_t *u) {
  direct_t *d = u->direct;
  if (!d || !d->need_mark) return 0;
  d->need_mark = 0;
  d->seg_n = 0;
  d->seg_bytes = 0;
  if (d->off) return 0;
  const uint8_t *cmd;
  size_t len;
  if (xg_marker(&d->g, &cmd, &len) < 0 || room(d, 1) < 0 || cio_queue(u, cmd, len) < 0) {
    d->off = 1;
    fail_mine(u, d, -ENOMEM); /* unmarked, the batch cannot be vouched for */
    return -ENOMEM;
  }
  push_tag(d, (tag_t){TAG_XMARK, 0, 0, 0, 0});
  d->xmarkers++;
  return 0;
}

/* The reply p[0, n) goes to its client: written now, or dropped when the client is gone. */
static void forward(conn_t *c, direct_t *d, const uint8_t *p, size_t n) {
  conn_t *cl = cio_live(c->io, d->cur_tag.id, d->cur_tag.gen);
  int urgent = 0;
  if (cl && !cl->shut) {
    struct iovec iov = {(void *)p, n};
    int64_t r = cio_send_iov(cl, &iov, 1);
    if (r < 0) cio_fail(cl, (int)r);
    /* JS waits on it: a reply held behind it (want), a client it stopped reading (a barrier, backpressure), or one
     * that sent its FIN and is closed once its replies are out. */
    urgent = cl->prompt || !cl->reading || cl->read_done;
    cl->prompt = 0;
  }
  cio_push_complete(c, (int32_t)n, urgent);
}

/* A client connection the reply could go to now: the tagged one, alive, nothing queued before it. */
static int client_ready(io_t *io, direct_t *d) {
  conn_t *cl = cio_live(io, d->cur_tag.id, d->cur_tag.gen);
  if (!cl) return 1; /* gone: the reply is dropped, as JS would */
  return cl->qlen == cl->qoff && !cl->shut;
}

uint32_t cio_direct_express(conn_t *c) {
  direct_t *d = c->direct;
  return d ? d->express + express_in_progress(d) + d->g.nheld : 0;
}

/* What JS reads without a call (conn.ts expressOwed): the express commands this upstream owes. */
static void publish(conn_t *c) {
  io_t *io = c->io;
  if (!io->x_owed || (uint32_t)c->id >= io->x_owed_cap) return;
  /* C's guard suspects an extra reply (a stall error took a marker's slot): JS marks its batches too until a marker
   * is answered in place (conn.ts expressSuspect), as its own guard does after its own stall. */
  io->x_owed[c->id] = (int32_t)cio_direct_express(c) | (c->direct && c->direct->suspect ? XG_SUSPECT : 0);
}

/* Every express command still owed on this connection gets `text` (or its client is closed: text NULL). */
static void fail_express(conn_t *c, direct_t *d, const uint8_t *text, size_t len) {
  xg_fail(c, &d->g, text, len); /* held: none of their bytes is out */
  if (express_in_progress(d)) {
    d->cur = CUR_JS;
    cio_express_fail(c, d->cur_tag.id, d->cur_tag.gen, text, len, d->cur_sent > 0 && !d->cur_held);
  }
  for (uint32_t i = 0; d->express > 0 && i < d->count; i++) {
    tag_t *t = &d->tags[(d->head + i) % d->cap];
    if (!t->express) continue;
    int32_t id = t->id;
    t->express = 0;
    t->id = -1;
    d->express--;
    cio_express_fail(c, id, t->gen, text, len, 0);
  }
  publish(c);
}

void cio_direct_fail_express(conn_t *c) {
  direct_t *d = c->direct;
  if (d) fail_express(c, d, d->fail, d->fail_len);
}

int cio_direct_usable(conn_t *u) {
  direct_t *d = u->direct;
  if (!d || d->off || d->markers > 0 || d->fail == NULL) return 0;
  /* With the reply guard on (JS's marker answer is set), a command may go in C only where nothing of JS's is in
   * flight: express commands and C's markers only (JS's replies are vouched for by JS's guard, not C's). */
  return d->answer == NULL ||
         (d->count == d->express + d->xmarkers && (d->s.owed == 0 || d->cur == CUR_EXPRESS || d->cur == CUR_XMARK));
}

int cio_direct_push_express(conn_t *u, int32_t client, uint32_t gen, uint32_t meta, uint32_t bin) {
  direct_t *d = u->direct;
  /* Room for its tag and for a marker's that may cut the batch before it. */
  if (room(d, 2) < 0) return -ENOMEM;
  if (d->answer != NULL) {
    /* Mixed with another client's since the last marker (or suspect): marked before the next bytes go out. */
    if (d->express == 0 && !express_in_progress(d)) d->seg_n = 0, d->seg_bytes = 0;
    int other = d->seg_n > 0 && (d->seg_id != client || d->seg_gen != gen);
    /* A long marked batch is cut where the client changes (the last client's bytes are queued whole by then): its
     * marker goes out here, so the replies before it are vouched for, and released, as the node answers this part,
     * not held until it has answered the whole write. */
    if (other && d->need_mark && d->seg_bytes >= XG_SEGMENT) {
      if (cio_direct_seal(u) < 0) return -ENOMEM;
      other = 0;
    }
    if (d->suspect || other) d->need_mark = 1;
    d->seg_n++;
    d->seg_id = client;
    d->seg_gen = gen;
    d->seg_bytes += bin;
  }
  push_tag(d, (tag_t){client, gen, meta + 1, (uint32_t)(uv_hrtime() / 1000), bin});
  d->express++;
  publish(u);
  return 0;
}

int cio_direct_fail_text(conn_t *c, const void *text, size_t len) {
  direct_t *d = direct_of(c);
  return d ? set_copy(&d->fail, &d->fail_len, text, len) : -ENOMEM;
}

void cio_direct_read(conn_t *c, size_t off, size_t n) {
  io_t *io = c->io;
  direct_t *d = c->direct;
  const uint8_t *base = io->arena + off;
  if (!d || d->off) {
    cio_push_data(c, off, n);
    return;
  }
  size_t pos = 0;
  /* JS bytes not yet handed over start at js_from (a reply carried over from the last read is JS's). */
  ssize_t js_from = d->s.owed > 0 ? 0 : -1;
  while (pos < n) {
    size_t start = pos;
    if (d->s.owed == 0) {
      begin_reply(io, d, base[pos]);
      if (d->off) break;
      d->s.owed = 1;
      d->s.mode = S_TYPE;
    }
    size_t used = 0;
    int r = rscan_feed(&d->s, base + pos, n - pos, &used);
    if (r < 0) {
      d->off = 1;
      if (js_from < 0) js_from = (ssize_t)start;
      /* The reply's start may lie in an earlier read (then it went to JS already): from here on, all is JS's. */
      break;
    }
    if (d->cur == CUR_MARKER || d->cur == CUR_XMARK) xg_slot_bytes(&d->g, base + pos, used);
    pos += used;
    if (d->cur == CUR_EXPRESS || d->cur == CUR_XMARK) {
      /* Neither is JS's: the JS bytes before go now, in their order (none when the read starts inside one). */
      if (js_from >= 0 && start > (size_t)js_from) cio_push_data(c, off + (size_t)js_from, start - (size_t)js_from);
      js_from = -1;
    }
    if (d->cur == CUR_XMARK) {
      if (r == 1 && marker_end(c, d) < 0) {
        d->off = 1;
        break;
      }
      if (r == 1) d->cur = CUR_JS;
      continue;
    }
    if (d->cur == CUR_EXPRESS) {
      const tag_t *t = &d->cur_tag;
      if (!d->cur_held) cio_express_forward(c, t->id, t->gen, base + start, pos - start);
      else if (xg_hold_bytes(&d->g, base + start, pos - start) < 0) {
        d->off = 1;
        break;
      }
      d->cur_sent += (uint32_t)(pos - start);
      if (r == 1) {
        if (!d->cur_held) cio_express_done(c, t->id, t->gen, t->t0, t->express - 1, t->bin, d->cur_sent);
        else if (xg_hold_end(&d->g, t->id, t->gen, t->express - 1, t->t0, t->bin, d->cur_hoff) < 0) {
          d->off = 1;
          break;
        }
        d->cur = CUR_JS;
      }
      continue;
    }
    if (r == 1 && d->cur == CUR_DIRECT && client_ready(io, d)) {
      if (js_from >= 0) cio_push_data(c, off + (size_t)js_from, start - (size_t)js_from);
      js_from = -1;
      forward(c, d, base + start, pos - start);
      continue;
    }
    if (d->cur == CUR_DIRECT) d->cur = CUR_JS; /* split across reads, or its client is busy: JS's */
    if (js_from < 0) js_from = (ssize_t)start;
    if (r == 1 && d->cur == CUR_MARKER && marker_end(c, d) < 0) {
      d->off = 1; /* the guard's verdict is JS's; until then nothing more goes direct */
      break;
    }
  }
  if (d->off) {
    if (js_from < 0) js_from = (ssize_t)pos;
    /* Replies are not to be trusted to their tags any more (JS's are JS's to judge): C's commands fail as JS's do
     * when their connection is lost, a client half of whose reply is out is closed. */
    int mine = c_owes(c, d);
    fail_express(c, d, d->fail, d->fail_len);
    free(d->tags);
    d->tags = NULL;
    d->count = d->cap = d->head = 0;
    d->express = d->markers = d->xmarkers = 0;
    pos = n;
    if (mine) {
      /* JS's FIFO does not have C's commands: the bytes left cannot be read in step by it either. The connection
       * goes, and JS fails what it owes (no client is handed another's reply). */
      cio_fail(c, -EPROTO);
      publish(c);
      return;
    }
  }
  if (js_from >= 0 && (size_t)js_from < n) cio_push_data(c, off + (size_t)js_from, n - (size_t)js_from);
  publish(c);
}
