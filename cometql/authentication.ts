import type { Logger } from 'pino';
import type { DevId } from '../src/domain.js';
import { SampledLog } from '../src/log.js';
import type { LoginThrottle } from '../src/security/loginThrottle.js';
import type { TenantStore } from '../src/tenants/store.js';
import { CometQLError, ErrorCode } from './errors.js';
import { fromStoredPasswordHash, nativePasswordHash, SCRAMBLE_LENGTH, verifyNativePassword } from './handshake.js';

/** Who a login is: the tenant it acts on, and whether it may act on others (root). */
export interface Login {
  devId: DevId;
  /**
   * Logged in with the main password: root, who may act on any tenant (`USE db_N`, `db_N.table`) and manage
   * `tenants`. A tenant without a password of its own logs in with it too, as in CppComet, and is root.
   */
  root: boolean;
}

export interface AuthenticatorOptions {
  mainPassword: string;
  tenants: TenantStore;
  devIndexSize: number;
  /** Failed logins close their address and their dev_id for a while (keys `addr:<ip>`, `user:<dev_id>`). */
  throttle: LoginThrottle;
  log: Logger;
  /** Every failed or refused login (the metrics count them). */
  onFailure(): void;
}

/**
 * Checks CometQL logins: the user name is the dev_id (`root` and `0` are 0); a tenant with its own password
 * logs in only with it, any other with the main password. Guessing is throttled per address and per
 * dev_id: while either is closed, an attempt is refused without a look at its password.
 */
export class Authenticator {
  private readonly mainHash: Buffer;
  private readonly warnings: SampledLog;

  constructor(private readonly options: AuthenticatorOptions) {
    this.mainHash = nativePasswordHash(options.mainPassword);
    this.warnings = new SampledLog(options.log);
  }

  /** The login of `user` from `address` answering `scramble` with `response`; throws the CometQLError to refuse it with. */
  async authenticate(user: string, address: string, scramble: Buffer, response: Buffer): Promise<Login> {
    const devId = this.devIdOf(user);
    const throttled = devId === undefined ? undefined : String(devId);
    return this.options.throttle.serialize(address, throttled, () => this.judge(devId, throttled, address, scramble, response));
  }

  private async judge(devId: DevId | undefined, throttled: string | undefined, address: string, scramble: Buffer, response: Buffer): Promise<Login> {
    const wait = this.options.throttle.retryAfterMs(address, throttled);
    if (wait > 0) {
      this.options.onFailure();
      this.warnings.warn('throttled', { address, devId }, 'CometQL login refused: too many failed logins');
      // MySQL's "access denied": clients and pools know it means "do not retry at once".
      throw new CometQLError(ErrorCode.accessDeniedLogin, `Too many failed logins: retry in ${Math.ceil(wait / 1000)} s`, '28000');
    }
    // A name that is no dev_id has no password to guess: refused, counted, but no closing of the address for it.
    if (devId === undefined) throw this.failed(undefined, address, devId, 'Invalid dev_id value');
    if (response.length !== SCRAMBLE_LENGTH) throw this.failed(throttled, address, devId, 'Authentication failure, authDataLen!=20');
    const tenantHash = devId === 0 ? undefined : await this.options.tenants.passwordHash(devId);
    const expected = tenantHash === undefined ? this.mainHash : fromStoredPasswordHash(tenantHash);
    if (!verifyNativePassword(scramble, response, expected)) throw this.failed(throttled, address, devId, 'Authentication failure');
    this.options.throttle.succeeded(address, String(devId));
    return { devId, root: tenantHash === undefined };
  }

  /** `root` and `0` are dev_id 0; any other user name is the dev_id in decimal. */
  private devIdOf(user: string): DevId | undefined {
    if (user === 'root' || user === '0') return 0;
    if (!/^[1-9]\d{0,9}$/.test(user)) return undefined;
    const devId = Number(user);
    return devId < this.options.devIndexSize ? devId : undefined;
  }

  /** `user` undefined: the attempt named no dev_id, so it closes nothing (there was no password to guess). */
  private failed(user: string | undefined, address: string, devId: DevId | undefined, message: string): CometQLError {
    if (user !== undefined) this.options.throttle.failed(address, user);
    this.options.onFailure();
    this.warnings.warn('failed', { address, devId }, 'CometQL login failed');
    return new CometQLError(ErrorCode.auth, message);
  }
}
