// What the MQTT channel publishes: each event as JSON (with its key) to the configured topic,
// and Home Assistant MQTT discovery for each device an alert names.
//
// Discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery): a retained
// config message on `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`, node and
// object ids from [a-zA-Z0-9_-]; a sensor's config carries unique_id, name, state_topic,
// json_attributes_topic and a `device` mapping whose `identifiers` group entities into one
// device; `origin` names the software that published it. Retained so Home Assistant finds it
// after its own restart. Here: homeassistant/sensor/segwatch_<device>/latest_anomaly/config,
// with the latest anomaly (retained) as JSON on .../state, the state being its kind and the
// attributes every field.

import { orderedAnomaly } from '../anomaly-fields.js';
import type { Alert } from './channel.js';

export interface Publication {
  topic: string;
  payload: string;
  retain: boolean;
}

/** The event as the MQTT channel's JSON: {"event", "key", "anomaly", "digest"?}. */
export function eventPayload(alert: Alert): string {
  const o: Record<string, unknown> = { event: alert.event, key: alert.key, anomaly: orderedAnomaly(alert.anomaly) };
  if (alert.digest) o.digest = alert.digest;
  return JSON.stringify(o);
}

/** A device name as a discovery node id: characters outside [a-zA-Z0-9_-] become "_". */
export function nodeId(device: string): string {
  return `segwatch_${device.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** The retained discovery config and state of the alert's device; none for tests and digests. */
export function discoveryPublications(alert: Alert, prefix: string, version: string): { config: Publication; state: Publication } | undefined {
  const a = alert.anomaly;
  if (alert.event === 'test' || alert.event === 'digest' || !a.device) return undefined;
  const node = nodeId(a.device);
  const base = `${prefix}/sensor/${node}/latest_anomaly`;
  const config = {
    name: 'Latest anomaly',
    unique_id: `${node}_latest_anomaly`,
    object_id: `${node}_latest_anomaly`,
    state_topic: `${base}/state`,
    value_template: '{{ value_json.kind }}',
    json_attributes_topic: `${base}/state`,
    icon: 'mdi:shield-alert',
    device: { identifiers: [node], name: a.device, manufacturer: 'segwatch', model: 'watched device' },
    origin: { name: 'segwatch', sw_version: version },
  };
  const state = { ...orderedAnomaly(a), event: alert.event, key: alert.key };
  return {
    config: { topic: `${base}/config`, payload: JSON.stringify(config), retain: true },
    state: { topic: `${base}/state`, payload: JSON.stringify(state), retain: true },
  };
}
