// One entry per channel type: how to build it from its config and its secrets. A new channel
// is one module plus one line here; nothing else lists the types.

import { defaultContext, type Channel, type ChannelContext } from './channel.js';
import { URL_IS_SECRET, type ChannelConfig, type ChannelType } from './config.js';
import { discordBody } from './discord.js';
import { EmailChannel } from './email.js';
import { HttpChannel, type HttpFormat } from './http-channel.js';
import { MqttChannel } from './mqtt.js';
import { ntfyBody } from './ntfy.js';
import { readSecret } from './secrets.js';
import { slackBody } from './slack.js';
import { SyslogChannel } from './syslog.js';
import { teamsBody } from './teams.js';
import { webhookBody } from './webhook.js';

/** The channel's secrets, read from the environment (or the files it names) when it is built. */
export interface Secrets {
  password?: string;
  token?: string;
}

export type ChannelFactory = (cfg: ChannelConfig, secrets: Secrets, ctx: ChannelContext) => Channel;

function http(format: HttpFormat): ChannelFactory {
  return (cfg, s, ctx) => {
    const url = URL_IS_SECRET.has(cfg.type) ? cfg.url || s.token! : cfg.url;
    const auth = URL_IS_SECRET.has(cfg.type) ? {}
      : s.token ? { bearer: s.token }
      : cfg.username && s.password ? { basic: { user: cfg.username, pass: s.password } } : {};
    return new HttpChannel(cfg, { url, ...auth }, format, ctx);
  };
}

export const CHANNELS: Readonly<Record<ChannelType, ChannelFactory>> = {
  webhook: http(webhookBody),
  slack: http(slackBody),
  discord: http(discordBody),
  teams: http(teamsBody),
  ntfy: http(ntfyBody),
  syslog: (cfg, _s, ctx) => new SyslogChannel(cfg, ctx),
  email: (cfg, s, ctx) => new EmailChannel(cfg, s.password, ctx),
  mqtt: (cfg, s, ctx) => new MqttChannel(cfg, s.password, ctx),
};

/**
 * Builds a channel from a config parseAlertChannels() accepted; reads its secrets from `env`
 * now (throws, naming the variable, when a _FILE cannot be read). Connects nothing yet.
 */
export function createChannel(cfg: ChannelConfig, env: NodeJS.ProcessEnv, ctx: Partial<ChannelContext> = {}): Channel {
  const secrets: Secrets = {};
  const password = readSecret(env, cfg.name, 'PASSWORD');
  const token = readSecret(env, cfg.name, 'TOKEN');
  if (password !== undefined) secrets.password = password;
  if (token !== undefined) secrets.token = token;
  return CHANNELS[cfg.type](cfg, secrets, defaultContext(ctx));
}
