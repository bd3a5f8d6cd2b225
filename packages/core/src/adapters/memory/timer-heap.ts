interface Timed<T> {
  readonly due: number;
  readonly seq: number;
  readonly item: T;
}

/**
 * Items released at a due time, in due order (ties in insertion order), with one timer for the
 * whole heap rather than one per item.
 */
export class TimerHeap<T> {
  private readonly heap: Timed<T>[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private keepAlive = false;

  constructor(private readonly release: (item: T) => void) {}

  get length(): number {
    return this.heap.length;
  }

  add(item: T, delayMs: number): void {
    const entry: Timed<T> = { due: Date.now() + Math.max(0, delayMs), seq: this.seq++, item };
    this.heap.push(entry);
    this.siftUp(this.heap.length - 1);
    this.schedule();
  }

  /** Removes every item matching `predicate`, returning them (used when a queue is torn down). */
  drainWhere(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: Timed<T>[] = [];
    for (const entry of this.heap) {
      if (predicate(entry.item)) removed.push(entry.item);
      else kept.push(entry);
    }
    if (removed.length > 0) {
      this.heap.length = 0;
      for (const entry of kept) {
        this.heap.push(entry);
        this.siftUp(this.heap.length - 1);
      }
      this.schedule();
    }
    return removed;
  }

  /** Cancels the timer; items stay in the heap. */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
  }

  private schedule(): void {
    const first = this.heap[0];
    if (first === undefined) {
      this.stop();
      return;
    }
    if (this.timer !== undefined && this.timerDue <= first.due) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDue = first.due;
    this.timer = setTimeout(() => this.fire(), Math.max(0, first.due - Date.now()));
    if (!this.keepAlive) this.timer.unref();
  }

  /**
   * Whether a pending item keeps the process alive. On while someone waits for the items (a
   * live subscription, as an open broker connection would), off otherwise, so that records left
   * behind by a closed consumer do not hold a finished process open.
   */
  setKeepAlive(keepAlive: boolean): void {
    this.keepAlive = keepAlive;
    if (keepAlive) this.timer?.ref();
    else this.timer?.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]!.due <= now) {
      this.release(this.pop()!.item);
    }
    this.schedule();
  }

  private pop(): Timed<T> | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (this.heap.length > 0 && last !== undefined) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private less(a: Timed<T>, b: Timed<T>): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.less(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.less(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}
