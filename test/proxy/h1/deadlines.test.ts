// Response deadlines of tries: lists per timeout, one timer per list.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { cancelDeadline, deadlineListCount, startDeadline, type DeadlineList, type Expiring } from '../../../src/proxy/h1/deadlines.js';

class Try implements Expiring {
  deadlineAt = 0;
  deadlinePrev: Expiring | undefined;
  deadlineNext: Expiring | undefined;
  deadlineList: DeadlineList | undefined;
  constructor(
    readonly name: string,
    private readonly log: string[],
    private readonly onExpired?: () => void,
  ) {}
  expired(): void {
    this.log.push(`${this.name}@${Date.now()}`);
    this.onExpired?.();
  }
}

describe('response deadlines', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('expires each try when its own timeout has passed, in deadline order, and never twice', () => {
    const log: string[] = [];
    startDeadline(new Try('a', log), 100);
    mock.timers.tick(30);
    startDeadline(new Try('b', log), 100);
    startDeadline(new Try('c', log), 50);
    mock.timers.tick(49);
    assert.deepEqual(log, []);
    mock.timers.tick(1);
    assert.deepEqual(log, ['c@80']);
    mock.timers.tick(20);
    assert.deepEqual(log, ['c@80', 'a@100']);
    mock.timers.tick(30);
    assert.deepEqual(log, ['c@80', 'a@100', 'b@130']);
    mock.timers.tick(1000);
    assert.equal(log.length, 3);
    assert.equal(deadlineListCount(), 0, 'empty lists are dropped');
  });

  it('a cancelled try never expires, wherever it sits in its list', () => {
    const log: string[] = [];
    const tries = ['a', 'b', 'c', 'd'].map((n) => new Try(n, log));
    for (const t of tries) {
      startDeadline(t, 100);
      mock.timers.tick(10);
    }
    cancelDeadline(tries[0]!); // the head
    cancelDeadline(tries[2]!); // the middle
    cancelDeadline(tries[3]!); // the tail
    cancelDeadline(tries[3]!); // twice is harmless
    mock.timers.tick(60); // the list's timer, armed for the first try, finds nothing due yet
    assert.deepEqual(log, []);
    mock.timers.tick(10);
    assert.deepEqual(log, ['b@110']);
    mock.timers.tick(200);
    assert.deepEqual(log, ['b@110']);
    assert.equal(deadlineListCount(), 0);
  });

  it('a try started again gets a fresh deadline, even from inside an expiry', () => {
    const log: string[] = [];
    const again = new Try('again', log);
    const first = new Try('first', log, () => startDeadline(again, 100));
    startDeadline(first, 100);
    const moved = new Try('moved', log);
    startDeadline(moved, 100);
    mock.timers.tick(50);
    startDeadline(moved, 100); // restarted: now due at 150
    mock.timers.tick(50);
    assert.deepEqual(log, ['first@100']);
    mock.timers.tick(50);
    assert.deepEqual(log, ['first@100', 'moved@150']);
    mock.timers.tick(49);
    assert.deepEqual(log, ['first@100', 'moved@150']);
    mock.timers.tick(1);
    assert.deepEqual(log, ['first@100', 'moved@150', 'again@200']);
  });

  it('an expiry that throws does not stop the list', () => {
    const log: string[] = [];
    startDeadline(new Try('boom', log, () => {
      throw new Error('boom');
    }), 10);
    startDeadline(new Try('next', log), 20);
    assert.throws(() => mock.timers.tick(10), /boom/);
    mock.timers.tick(10);
    assert.deepEqual(log, ['boom@10', 'next@20']);
  });
});
