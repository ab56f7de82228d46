/**
 * A store could not do what was asked because its database failed. The message names the failure without
 * values or credentials, so front ends may show it (CometQL answers it as an ERR packet).
 */
export class StoreError extends Error {
  override name = 'StoreError';
}
