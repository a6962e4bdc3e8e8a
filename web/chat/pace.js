// The page paces itself to the server's send limit (the welcome's `pace`: HARBOR_SEND_BURST
// and HARBOR_SEND_RATE_PER_10S), so a fast typist is told "slow down" with the real wait
// instead of watching a pile of bubbles stuck on "sending…". Pure: the caller passes `now` (ms).

/** What the server allows when its welcome doesn't say (its defaults). */
export const DEFAULT_PACE = { burst: 5, per_10s: 20 };

/** The server's limits from a welcome, or the defaults when absent or malformed. */
export function paceFrom(welcome) {
  const pace = welcome?.pace;
  const burst = Number.isInteger(pace?.burst) && pace.burst >= 1 ? pace.burst : DEFAULT_PACE.burst;
  const per10 = Number.isFinite(pace?.per_10s) && pace.per_10s > 0
    ? pace.per_10s
    : DEFAULT_PACE.per_10s;
  return { burst, per_10s: per10 };
}

/** A token bucket like the server's per-connection one (server/ratelimit.py). */
export class SendPace {
  constructor({ burst, per_10s }, now) {
    this.burst = burst;
    this.ratePerMs = per_10s / 10_000;
    this.tokens = burst;
    this.at = now;
  }

  #refill(now) {
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.at) * this.ratePerMs);
    this.at = now;
  }

  /** Spend one send: 0 if allowed now, else the ms to wait (nothing is spent then). */
  take(now) {
    this.#refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.tokens) / this.ratePerMs);
  }
}

/** The words for a wait: whole seconds, never "0 s". */
export function slowDownText(waitMs) {
  const s = Math.max(1, Math.ceil(waitMs / 1000));
  return `Slow down a little: you can send again in ${s} s. Your message is still in the box.`;
}
