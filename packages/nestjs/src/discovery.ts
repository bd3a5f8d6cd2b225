// Finds the @Subscribe and @SubscribeBatch handlers of an application's providers and controllers,
// and checks what can only be checked across all of them (unknown buses, two handlers in one group
// on one topic, whatever their kind).
import type { DiscoveryService } from '@nestjs/core';
import { type Bus, ConfigError } from '@tidings/core';
import { declaredHandlers, type HandlerDeclaration } from './subscribe';

type Wrapper = ReturnType<DiscoveryService['getProviders']>[number];

/** @internal A handler found on a provider instance: its declaration, and where to call it. */
export type DiscoveredHandler = HandlerDeclaration & {
  /** `ClassName.method`, for messages. */
  readonly label: string;
  readonly instance: Record<string | symbol, unknown>;
};

/** @internal Every handler of the application, of either kind, each provider instance once. */
export function discoverHandlers(discovery: DiscoveryService): DiscoveredHandler[] {
  const found: DiscoveredHandler[] = [];
  const instances = new Set<unknown>();
  const wrappers: Wrapper[] = [...discovery.getProviders(), ...discovery.getControllers()];
  for (const wrapper of wrappers) {
    if (wrapper.isAlias) continue;
    const metatype = wrapper.metatype as { prototype?: unknown; name?: string } | null | undefined;
    const declaredOnClass =
      typeof metatype === 'function' && metatype.prototype !== undefined
        ? declaredHandlers(metatype.prototype as object)
        : [];
    if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
      // A request-scoped or transient provider has no one instance to deliver events to.
      if (declaredOnClass.length > 0) {
        throw new ConfigError(
          'Subscribe',
          `${wrapper.name} is request-scoped or transient (or depends on such a provider); @Subscribe and @SubscribeBatch handlers need a singleton provider`,
        );
      }
      continue;
    }
    const instance = wrapper.instance as unknown;
    if (typeof instance !== 'object' || instance === null || instances.has(instance)) continue;
    instances.add(instance);
    // The instance's own class decides (a factory provider may return a subclass of its metatype).
    const className = instance.constructor?.name ?? String(wrapper.name);
    for (const declaration of declaredHandlers(Object.getPrototypeOf(instance) as object | null)) {
      found.push({
        ...declaration,
        label: `${className}.${String(declaration.methodName)}`,
        instance: instance as Record<string | symbol, unknown>,
      });
    }
  }
  return found;
}

/** @internal Refuses handlers of a bus that no `TidingsModule.forRoot` made. */
export function checkBusNames(handlers: readonly DiscoveredHandler[], known: ReadonlySet<string>): void {
  for (const handler of handlers) {
    if (!known.has(handler.bus)) {
      throw new ConfigError(
        'bus',
        `${handler.label} subscribes on the bus "${handler.bus}", which no TidingsModule.forRoot({ name: '${handler.bus}' }) made (buses: ${[...known].join(', ')})`,
      );
    }
  }
}

/**
 * @internal Refuses two handlers of one bus in one consumer group on one topic: the group's members
 * would share its events, each handler getting some of them, which is never what two methods mean.
 */
export function checkGroups(handlers: readonly DiscoveredHandler[], bus: Bus): void {
  const owners = new Map<string, string>();
  for (const handler of handlers) {
    const topics = new Set(
      handler.options.topic === undefined
        ? handler.contracts.map((contract) => bus.topicOf(contract))
        : [handler.options.topic],
    );
    for (const topic of topics) {
      const key = `${handler.options.group}\u0000${topic}`;
      const owner = owners.get(key);
      if (owner !== undefined) {
        throw new ConfigError(
          'group',
          `${owner} and ${handler.label} both handle the topic "${topic}" in the group "${handler.options.group}": they would share its events, each getting some; give each handler its own group, or handle both contracts in one method`,
        );
      }
      owners.set(key, handler.label);
    }
  }
}
