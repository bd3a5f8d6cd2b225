/** Prices the order service charges, in cents. A real shop reads them from its product database. */
export const catalog: Readonly<Record<string, number>> = {
  'tea-tin': 1250,
  'teapot-blue': 4999,
  'cup-white': 799,
  'kettle-steel': 3500,
  'sold-out-mug': 1599,
};

/** The price of a SKU, or undefined when the shop does not sell it. */
export function priceOf(sku: string): number | undefined {
  return Object.hasOwn(catalog, sku) ? catalog[sku] : undefined;
}
