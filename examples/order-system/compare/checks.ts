// What a run must show for its figures to be trusted, checked by the runner after every run (the
// quick run in CI fails on any of them). The bounds are loose: they hold on a busy machine, and
// catch a harness that measures the wrong thing (no orders, lost events, faults not injected,
// a capacity not enforced), not a slow machine.
import { capacityArithmetic } from './report-capacity';
import { ON_PATH } from './report-faults';
import type { Results } from './results';

/** The problems found in a run; empty when it checks out. */
export function checkResults(results: Results): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };
  // Deadlines missed with no fault behind them measure the machine, not the designs: on a machine
  // with more runnable work than cores (load average above the CPU count, before or after the run)
  // those checks are left out and said to be, rather than failing a run that measured nothing wrong.
  const { cpus, loadBefore, loadAfter } = results.environment;
  const overloaded = Math.max(loadBefore, loadAfter) > cpus;
  const expectUnloaded = (ok: boolean, problem: string): void => {
    if (ok) return;
    if (overloaded)
      console.warn(
        `not checked on an overloaded machine (load ${loadAfter.toFixed(1)} on ${cpus} CPUs): ${problem}`,
      );
    else problems.push(problem);
  };
  const settings = results.environment.experiments;

  for (const r of results.records) {
    const where = `latency ${r.scenario} ${r.system} ${r.users} users`;
    expect(r.requests > 0, `${where}: no request was answered`);
    if (r.scenario === 'down' && r.system === 'sync')
      expect(r.ok === 0, `${where}: the chain took orders with email down`);
    else expect(r.ok === r.requests, `${where}: ${r.requests - r.ok} of ${r.requests} requests failed`);
    if (r.system === 'events' && r.drainMeasured === true) {
      expect(
        r.scenario !== 'down' || r.emailsDeadLettered === r.ok,
        `${where}: ${r.ok} orders but ${r.emailsDeadLettered} confirmations dead-lettered with email down`,
      );
    }
  }

  if (settings !== undefined) {
    const arithmetic = capacityArithmetic(settings.capacity.services);
    for (const r of results.capacity ?? []) {
      const where = `capacity ${r.design} ${r.users} users`;
      const cap = r.design === 'events' ? arithmetic.requestPath : arithmetic.chain;
      expect(r.ok > 0, `${where}: no successful order`);
      // A little over the ceiling is allowed: requests in flight at the end of the window count.
      expect(
        r.okPerSecond <= cap * 1.15,
        `${where}: ${r.okPerSecond.toFixed(1)} orders/s is over the ceiling of ${cap.toFixed(1)}`,
      );
      const offered = r.users / (r.design === 'events' ? 0.5 : 1.05);
      if (r.design !== 'events' && offered > arithmetic.chain * 1.5) {
        // Loose: in a short window the first requests take a while to reach email.
        expect(
          r.services.email.utilization > 0.5,
          `${where}: email only ${(r.services.email.utilization * 100).toFixed(0)} % busy though saturated`,
        );
      }
    }
    const top = Math.max(0, ...(results.capacity ?? []).map((r) => r.users));
    const sync = results.capacity?.find((r) => r.design === 'sync' && r.users === top);
    const events = results.capacity?.find((r) => r.design === 'events' && r.users === top);
    if (sync !== undefined && events !== undefined) {
      expect(events.okPerSecond > sync.okPerSecond, `capacity ${top} users: Tidings not above the chain`);
      expect(
        (events.emailBacklogAtEnd ?? 0) > 0,
        `capacity ${top} users: no email backlog though email is the bottleneck`,
      );
    }

    for (const r of results.compute ?? []) {
      const where = `compute ${r.design} ${r.ratePerSecond}/s`;
      expect(r.ok >= r.offered * 0.95, `${where}: only ${r.ok} of ${r.offered} orders succeeded`);
      expect(r.cpu.orderService > 0, `${where}: no CPU time measured for the order service`);
      expect(r.sockets.inbound > 0, `${where}: no customer connection seen`);
      // The in-memory broker has no connection to see.
      if (r.design === 'rpc' || (r.design === 'events' && results.environment.broker !== 'memory'))
        expect(r.sockets.broker > 0, `${where}: no broker connection seen`);
    }

    for (const r of results.faults ?? []) {
      const where = `${r.schedule} ${r.design}`;
      expect(r.offered > 0, `${where}: no request sent`);
      const failed = r.errors + r.late;
      if (r.schedule === 'healthy') {
        expectUnloaded(
          failed <= r.offered * 0.02,
          `${where}: ${failed} of ${r.offered} requests failed with healthy services`,
        );
        continue;
      }
      expect(r.faulted > 0, `${where}: no order met a fault`);
      // A failure with no fault behind it is load, not the schedule: a few at most.
      expectUnloaded(
        r.unfaultedFailed <= Math.max(2, r.offered * 0.03),
        `${where}: ${r.unfaultedFailed} requests failed with no fault`,
      );
      const faultedOffPath = ON_PATH[r.design].length < 5;
      if (faultedOffPath) expect(r.faultedFailed < r.faulted, `${where}: every fault reached the customer`);
      else
        expect(r.faultedFailed >= r.faulted * 0.9, `${where}: faults on the path did not reach the customer`);
      if (r.background !== undefined) {
        expect(r.background.drained, `${where}: the background work did not drain`);
      }
    }
  }
  return problems;
}
