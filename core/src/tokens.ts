/**
 * Injection tokens of the core's services (tsyringe). Typed so a wrong registration fails to compile.
 */
import type { InjectionToken } from 'tsyringe';
import type { Logger } from '@cedana-ts/sdk';
import type { Config } from './config/schema';

export const ConfigToken: InjectionToken<Config> = Symbol('Config');
export const LoggerToken: InjectionToken<Logger> = Symbol('Logger');
/** This host's identity, recorded on jobs so another host's jobs show as `remote`. */
export const HostToken: InjectionToken<string> = Symbol('Host');
