// The catalogue a fresh `npm start` opens with: the classic demo's SKUs and a few more (enough for two pages
// of the storefront), written through the API, and only when the catalogue is empty.

/** The SKUs a fresh local start has: id, name and price. */
export const DEMO_SKUS: ReadonlyArray<readonly [string, string, string]> = [
  ['sku123', 'AirPods', '199.99'],
  ['sku456', 'Magic Mouse', '49.50'],
  ['sku789', 'USB-C Cable', '19.00'],
  ['sku234', 'Keyboard', '99.00'],
  ['sku567', 'Monitor Stand', '79.90'],
  ['sku890', 'Webcam', '129.00'],
];

/**
 * Writes the demo SKUs through the app at `baseUrl` when it has no SKU at all (as the admin role, with
 * `adminToken` when sign-in is on); says what it did.
 */
export async function seedCatalogue(baseUrl: string, adminToken?: string): Promise<void> {
  const key = process.env.LOCAL_RUNNER_FUNCTION_KEY;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...(key ? { 'x-functions-key': key } : {}),
    ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}),
  };
  const listed = await fetch(`${baseUrl}/api/skus?limit=1`, { headers });
  if (!listed.ok) {
    console.log(`start: catalogue not seeded (GET /api/skus answered ${listed.status})`);
    return;
  }
  if (((await listed.json()) as { items: unknown[] }).items.length > 0) return;
  for (const [id, name, price] of DEMO_SKUS) {
    await fetch(`${baseUrl}/api/skus/${id}`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ name, price }),
    });
  }
  console.log(
    `start: seeded an empty catalogue with ${DEMO_SKUS.length} SKUs (${DEMO_SKUS.map(([id]) => id).join(', ')})`,
  );
}
