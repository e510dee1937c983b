/** @module While a container outlives its SIGTERM, the runner says when SIGKILL comes, so a stop never looks hung. */

export interface KillCountdown {
  /** Feed every pod event (`key` = pod/container); `sigterm` with "SIGKILL in Nms" starts a countdown, exit ends it. */
  event(key: string, event: string, detail?: string): void;
  stop(): void;
}

/** Lines every 5 s, then each of the last 3 seconds: "pod/c is still running after SIGTERM; SIGKILL in 12s". */
export function killCountdown(say: (line: string) => void, tickMs = 1000): KillCountdown {
  const timers = new Map<string, NodeJS.Timeout>();
  const end = (key: string) => {
    clearInterval(timers.get(key));
    timers.delete(key);
  };
  return {
    event(key, event, detail) {
      if (event === 'sigterm') {
        const ms = Number(/SIGKILL in (\d+)ms/.exec(detail ?? '')?.[1]);
        if (!Number.isFinite(ms)) return;
        end(key);
        const deadline = Date.now() + ms;
        const t = setInterval(() => {
          const left = Math.round((deadline - Date.now()) / 1000);
          if (left <= 0) return end(key);
          if (left % 5 === 0 || left <= 3) say(`podkit: ${key} is still running after SIGTERM; SIGKILL in ${left}s`);
        }, tickMs);
        t.unref();
        timers.set(key, t);
      } else if (event === 'exit' || event === 'sigkill') end(key);
    },
    stop() {
      for (const k of [...timers.keys()]) end(k);
    },
  };
}
