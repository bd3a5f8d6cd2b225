// The test harness in a Nest testing module, as a user's spec file would have it; its subpath
// import is checked under nodenext only (node resolution of subpaths needs typesVersions in core).
import { Test } from '@nestjs/testing';
import { createTestBus } from '@tidings/core/testing';
import { TidingsBus } from '@tidings/nestjs';
import { AppModule, OrderPlaced } from './app.js';

export async function handledInTest(): Promise<number> {
  const bus = createTestBus();
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(TidingsBus)
    .useValue(bus)
    .compile();
  await moduleRef.init();
  const { id } = await bus.publish(OrderPlaced, { orderId: 'o-1', totalCents: 1 });
  const handled = await bus.waitFor({ id, group: 'email', outcome: 'handled' });
  await moduleRef.close();
  return handled.length;
}
