// A reconnecting client for Harbor's WebSocket protocol (docs/protocol.md).
//
// It owns the connection only: open, say hello, keep alive, and come back after a drop with
// capped, jittered backoff. What to re-join and what to resend after a reconnect is the page's
// business (onReady), because only the page knows which rooms and messages it cares about.

export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 30_000;
const KEEPALIVE_MS = 25_000;
// Browsers can't see WebSocket pings, so a silent connection is only noticed through our own
// ping/pong: after this long without any frame the socket is treated as dead and replaced.
const STALE_MS = 60_000;

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to 30 s, each ± 50 %.
 * The jitter spreads a whole room's reconnects after a worker restart over time. */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.round(base * (0.5 + random()));
}

/** Close codes after which reconnecting would only repeat the same refusal (docs/protocol.md):
 * protocol faults (a client bug), policy refusals, and Harbor's 4500-4999 "do not reconnect". */
export function closeIsTerminal(code) {
  return code === 1003 || code === 1007 || code === 1008 || code === 1009 ||
    (code >= 4500 && code <= 4999);
}

export function socketUrl(loc = window.location) {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/ws`;
}

export class HarborSocket {
  #ws = null;
  #ready = false;
  #stopped = true;
  #attempt = 0;
  #timer = null;
  #keepalive = null;
  #lastFrameAt = 0;
  #pongs = [];

  /**
   * @param {object} options
   * @param {string} options.url
   * @param {() => object} options.hello   the hello frame to send on each new connection
   * @param {(welcome: object) => void} options.onReady   after each welcome
   * @param {(frame: object) => void} options.onFrame     every other frame (not pong)
   * @param {() => void} options.onDown    the connection dropped (before any reconnect)
   * @param {(state: string, detail?: object) => void} options.onStatus
   */
  constructor(options) {
    this.options = options;
    this.onOnline = () => {
      // The network is back: don't sit out the rest of a long backoff.
      if (this.#timer !== null) {
        clearTimeout(this.#timer);
        this.#timer = null;
        this.#open();
      }
    };
  }

  get ready() {
    return this.#ready;
  }

  start() {
    if (!this.#stopped) return;
    this.#stopped = false;
    window.addEventListener("online", this.onOnline);
    this.#open();
  }

  /** Close for good (quick exit, forget me). */
  stop() {
    this.#stopped = true;
    window.removeEventListener("online", this.onOnline);
    clearTimeout(this.#timer);
    this.#timer = null;
    const ws = this.#ws;
    this.#detach();
    if (ws) ws.close(1000);
  }

  /** Send a frame if welcomed; false means "not now" and the caller keeps it for later. */
  send(frame) {
    if (!this.#ready || !this.#ws) return false;
    this.#ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send a ping; `done(true)` on its pong. The server answers commands in order, so a pong
   * also means every command sent before it has been answered. `done(false)` if the connection
   * drops first. */
  ping(done = null) {
    if (!this.send({ type: "ping" })) {
      if (done) done(false);
      return;
    }
    this.#pongs.push(done);
  }

  #open() {
    this.#timer = null;
    this.options.onStatus("connecting");
    let ws;
    try {
      ws = new WebSocket(this.options.url);
    } catch {
      this.#retry();
      return;
    }
    this.#ws = ws;
    ws.addEventListener("open", () => {
      if (ws === this.#ws) ws.send(JSON.stringify(this.options.hello()));
    });
    ws.addEventListener("message", (event) => this.#onMessage(ws, event));
    // An "error" event is always followed by "close", which does the work.
    ws.addEventListener("close", (event) => this.#onClose(ws, event.code));
  }

  #onMessage(ws, event) {
    if (ws !== this.#ws || typeof event.data !== "string") return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame === null || typeof frame !== "object" || typeof frame.type !== "string") return;
    this.#lastFrameAt = Date.now();
    if (frame.type === "welcome") {
      this.#ready = true;
      this.#attempt = 0;
      this.#startKeepalive();
      this.options.onStatus("online");
      this.options.onReady(frame);
    } else if (frame.type === "pong") {
      const done = this.#pongs.shift();
      if (done) done(true);
    } else {
      this.options.onFrame(frame);
    }
  }

  #onClose(ws, code) {
    if (ws !== this.#ws) return;
    this.#detach();
    if (this.#stopped) return;
    this.options.onDown();
    if (closeIsTerminal(code)) {
      this.#stopped = true;
      this.options.onStatus("ended", { code });
      return;
    }
    this.#retry();
  }

  #retry() {
    const delay = backoffDelay(this.#attempt);
    this.#attempt += 1;
    this.options.onStatus("waiting", { delay });
    this.#timer = setTimeout(() => this.#open(), delay);
  }

  #detach() {
    this.#ws = null;
    this.#ready = false;
    clearInterval(this.#keepalive);
    this.#keepalive = null;
    const pongs = this.#pongs;
    this.#pongs = [];
    for (const done of pongs) if (done) done(false);
  }

  #startKeepalive() {
    clearInterval(this.#keepalive);
    this.#keepalive = setInterval(() => {
      const ws = this.#ws;
      if (!ws) return;
      if (Date.now() - this.#lastFrameAt > STALE_MS) {
        ws.close(4000);
        this.#onClose(ws, 4000); // don't wait for a closing handshake a dead peer never answers
        return;
      }
      this.ping();
    }, KEEPALIVE_MS);
  }
}
