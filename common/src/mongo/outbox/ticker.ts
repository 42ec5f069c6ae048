/**
 * The relay's timer: runs `tick` again and again, soon (`retryMs`) while it reports work left and
 * after `idleMs` otherwise. schedule() asks for a run within a delay: an earlier run already
 * planned stands (so failures arriving faster than the interval cannot postpone it forever), and a
 * request during a run makes the next one come soon. Never two runs at once.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  private running = false;
  private again = false;
  private stopped = true;

  constructor(
    /** One run; resolves whether work is left. */
    private readonly tick: () => Promise<boolean>,
    private readonly retryMs: number,
    private readonly idleMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** A run soon: within the retry interval. */
  retry(): void {
    this.schedule(this.retryMs);
  }

  schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const dueAt = Date.now() + delayMs;
    if (this.timer !== undefined && this.dueAt <= dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = dueAt;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delayMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async run(): Promise<void> {
    this.running = true;
    let workLeft = true;
    try {
      workLeft = await this.tick();
    } finally {
      this.running = false;
    }
    const soon = workLeft || this.again;
    this.again = false;
    this.schedule(soon ? this.retryMs : this.idleMs);
  }
}
