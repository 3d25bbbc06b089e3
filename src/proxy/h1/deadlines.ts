// Response deadlines of tries without a timer object per try. Tries with the
// same timeout form one list in start order, so the list is also in deadline
// order: adding and removing are pointer updates, and one Node timer per
// list, armed for its earliest deadline, finds the expired ones. Node's own
// setTimeout allocates a Timeout and reschedules its lists on every call,
// which the profile showed at ~2 % of a sidecar's CPU (bench/NOTES.md).

/** Something with a deadline: the list links it in through these fields. */
export interface Expiring {
  deadlineAt: number;
  deadlinePrev: Expiring | undefined;
  deadlineNext: Expiring | undefined;
  deadlineList: DeadlineList | undefined;
  /** Its deadline passed (it has already been removed). */
  expired(): void;
}

export class DeadlineList {
  private head: Expiring | undefined;
  private tail: Expiring | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Expired entries are being told: adding one must not arm the timer (fire re-arms for the head). */
  private firing = false;

  constructor(
    readonly ms: number,
    private readonly onEmpty: (list: DeadlineList) => void,
  ) {}

  add(e: Expiring, now: number): void {
    e.deadlineAt = now + this.ms;
    e.deadlineList = this;
    e.deadlinePrev = this.tail;
    e.deadlineNext = undefined;
    if (this.tail) this.tail.deadlineNext = e;
    else this.head = e;
    this.tail = e;
    if (!this.timer && !this.firing) this.arm(this.ms);
  }

  remove(e: Expiring): void {
    const { deadlinePrev: prev, deadlineNext: next } = e;
    if (prev) prev.deadlineNext = next;
    else this.head = next;
    if (next) next.deadlinePrev = prev;
    else this.tail = prev;
    e.deadlinePrev = e.deadlineNext = e.deadlineList = undefined;
    // The timer stays armed: when it fires on an empty list, the list goes.
  }

  private arm(ms: number): void {
    // Unreferenced: the connections of the tries keep the process alive, an empty list must not.
    this.timer = setTimeout(this.fire, ms);
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = Date.now();
    this.firing = true;
    try {
      let e = this.head;
      while (e !== undefined && e.deadlineAt <= now) {
        this.remove(e);
        e.expired();
        e = this.head;
      }
    } finally {
      this.firing = false;
      const head = this.head;
      if (head !== undefined) this.arm(Math.max(1, head.deadlineAt - now));
      else this.onEmpty(this);
    }
  };
}

/** The lists by timeout; a list is dropped once its timer finds it empty. */
const lists = new Map<number, DeadlineList>();
const dropList = (list: DeadlineList): void => {
  if (lists.get(list.ms) === list) lists.delete(list.ms);
};

/** Calls `e.expired()` once `ms` have passed, unless `cancelDeadline(e)` comes first. */
export function startDeadline(e: Expiring, ms: number, now = Date.now()): void {
  if (e.deadlineList) e.deadlineList.remove(e);
  let list = lists.get(ms);
  if (list === undefined) lists.set(ms, (list = new DeadlineList(ms, dropList)));
  list.add(e, now);
}

export function cancelDeadline(e: Expiring): void {
  e.deadlineList?.remove(e);
}

/** Lists with a timer armed or tries waiting (for tests). */
export function deadlineListCount(): number {
  return lists.size;
}
