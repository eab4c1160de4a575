// Kubernetes resource quantities ("50m", "64Mi", "1.5", "2e3"): checked before they reach a pod
// spec, because the API server rejects the whole pod for one bad quantity.

const SUFFIXES: Readonly<Record<string, number>> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

// The API server's grammar without the sign: resource amounts are never negative.
const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|([KMGTPE]i|[numkMGTPE])?)$/;

export function isQuantity(text: string): boolean {
  return QUANTITY.test(text);
}

/** The quantity's value in base units (cores, bytes), precise enough to compare two; NaN if invalid. */
export function quantityValue(text: string): number {
  const m = QUANTITY.exec(text);
  if (!m) return NaN;
  const [, number, exponent, suffix] = m;
  return exponent ? Number(`${number}${exponent}`) : Number(number) * (SUFFIXES[suffix ?? ''] ?? NaN);
}
